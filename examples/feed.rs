#[path = "../benches/support/streams.rs"]
mod streams;
fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    let data = match kind.as_str() {
        "ansi" => streams::ansi(50_000_000),
        "tui" => streams::tui(50_000_000),
        _ => streams::plain(50_000_000),
    };
    let mut s = teamster::screen::Screen::new(200, 50, 10_000);
    let t = std::time::Instant::now();
    for c in data.chunks(4096) {
        s.feed(c);
    }
    println!("{:.0} MB/s", data.len() as f64 / t.elapsed().as_secs_f64() / 1e6);
}
