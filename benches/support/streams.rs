//! The byte streams the benchmarks feed: plain text, ANSI-coloured text, and a full-screen
//! TUI stream. They are generated (deterministically) rather than checked in, so the
//! repository stays small; every run of every benchmark sees the same bytes.

/// Lines of about 80 characters of plain text, ending in CRLF as a PTY delivers them.
pub fn plain(bytes: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes + 128);
    let mut i = 0u64;
    while v.len() < bytes {
        v.extend_from_slice(
            format!("{i:08} the quick brown fox jumps over the lazy dog, 0123456789 abcdefghijklmn\r\n").as_bytes(),
        );
        i += 1;
    }
    v
}

/// Text as compilers, test runners and `ls --color` print it: short coloured spans in
/// 16, 256 and true colour, bold and underline.
pub fn ansi(bytes: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes + 256);
    let mut i = 0u64;
    while v.len() < bytes {
        let c = i % 8;
        let p = i % 256;
        v.extend_from_slice(
            format!(
                "\x1b[1;3{c}m{i:06}\x1b[0m \x1b[38;5;{p}mwarning\x1b[0m: unused \x1b[4mvariable\x1b[24m `x` in \x1b[38;2;{p};120;200msrc/main.rs\x1b[0m:{c}:{p} \x1b[2m(dead_code)\x1b[22m\r\n"
            )
            .as_bytes(),
        );
        i += 1;
    }
    v
}

/// A full-screen program redrawing at 200x50 as ratatui-style apps do: cursor moves,
/// colour changes and text for the cells that changed, a scrolling log panel, a table
/// with highlighted rows and a status line, on the alternate screen.
pub fn tui(bytes: usize) -> Vec<u8> {
    let (cols, rows) = (200usize, 50usize);
    let mut v = Vec::with_capacity(bytes + 4096);
    v.extend_from_slice(b"\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
    let mut frame = 0usize;
    while v.len() < bytes {
        v.extend_from_slice(b"\x1b[?2026h");
        // Header bar.
        v.extend_from_slice(format!("\x1b[1;1H\x1b[48;5;24;38;5;231;1m frame {frame:>8} ").as_bytes());
        v.extend_from_slice(" ".repeat(cols - 17).as_bytes());
        // Log panel on the left: every line shifts up by one each frame.
        for r in 0..rows - 3 {
            let n = frame + r;
            let level = ["\x1b[32mINFO ", "\x1b[33mWARN ", "\x1b[31mERROR", "\x1b[36mDEBUG"][n % 4];
            v.extend_from_slice(
                format!("\x1b[{};1H\x1b[0m{level}\x1b[0m \x1b[2m{n:>8}\x1b[22m request handled in {:>4} ms \x1b[38;2;{};{};200m/api/v1/item/{n}\x1b[0m\x1b[K", r + 2, n % 997, n % 256, (n * 7) % 256)
                    .as_bytes(),
            );
            // Table on the right with one highlighted row.
            let hl = if r == frame % (rows - 3) { "\x1b[7m" } else { "" };
            v.extend_from_slice(
                format!(
                    "\x1b[{};111H\x1b[0m│{hl} {:<20} {:>10} {:>10} {:>12} {:>20}\x1b[0m",
                    r + 2,
                    format!("worker-{}", (n * 13) % 97),
                    n % 100,
                    (n * 3) % 1000,
                    format!("{}.{:02}%", n % 100, n % 97),
                    "running"
                )
                .as_bytes(),
            );
        }
        // Status line.
        v.extend_from_slice(
            format!("\x1b[{rows};1H\x1b[0;48;5;236m q quit  / search  ? help   {:>160}\x1b[0m", frame).as_bytes(),
        );
        v.extend_from_slice(b"\x1b[?2026l");
        frame += 1;
    }
    v.extend_from_slice(b"\x1b[?1049l\x1b[?25h");
    v
}
