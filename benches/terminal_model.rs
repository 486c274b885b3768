//! Terminal model benchmark: teamster's `screen` against `alacritty_terminal` and `vt100`.
//!
//! For each model: parse throughput on plain text, ANSI-coloured text and a full-screen TUI
//! stream (200x50, 10,000 lines of scrollback, fed in 4 KiB chunks as a PTY read delivers
//! them), and the heap held by a pane after 12,000 lines of 80-column text at 200 columns.
//! Heap is counted by a wrapping global allocator, so the figures are exact and repeatable.
//!
//! Run: `cargo bench --bench terminal_model` (add `-- --quick` for a short run).

#[path = "support/streams.rs"]
mod streams;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const COLS: u16 = 200;
const ROWS: u16 = 50;
const SCROLLBACK: usize = 10_000;

trait Model {
    fn feed(&mut self, bytes: &[u8]);
}

struct Ours(teamster::screen::Screen);
impl Model for Ours {
    fn feed(&mut self, bytes: &[u8]) {
        self.0.feed(bytes);
        // The runner writes answers back; taking them is part of the work.
        self.0.take_responses();
    }
}

struct Alacritty(
    alacritty_terminal::Term<alacritty_terminal::event::VoidListener>,
    alacritty_terminal::vte::ansi::Processor,
);
impl Model for Alacritty {
    fn feed(&mut self, bytes: &[u8]) {
        self.1.advance(&mut self.0, bytes);
    }
}

struct Vt100(vt100::Parser);
impl Model for Vt100 {
    fn feed(&mut self, bytes: &[u8]) {
        self.0.process(bytes);
    }
}

fn make(name: &str) -> Box<dyn Model> {
    match name {
        "teamster screen" => Box::new(Ours(teamster::screen::Screen::new(COLS, ROWS, SCROLLBACK))),
        "alacritty_terminal" => {
            use alacritty_terminal::term::{Config, Term, test::TermSize};
            let config = Config { scrolling_history: SCROLLBACK, ..Config::default() };
            let term = Term::new(
                config,
                &TermSize::new(COLS as usize, ROWS as usize),
                alacritty_terminal::event::VoidListener,
            );
            Box::new(Alacritty(term, alacritty_terminal::vte::ansi::Processor::new()))
        }
        _ => {
            let nz = |v: u16| std::num::NonZero::new(v).expect("non-zero size");
            Box::new(Vt100(vt100::Parser::new(nz(ROWS), nz(COLS), SCROLLBACK)))
        }
    }
}

fn throughput(name: &str, data: &[u8], runs: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let mut m = make(name);
        let t = Instant::now();
        for chunk in data.chunks(4096) {
            m.feed(chunk);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    data.len() as f64 / best / 1e6
}

fn heap_after_history(name: &str) -> f64 {
    let data = streams::plain(12_000 * 98);
    let before = LIVE.load(Ordering::Relaxed);
    let mut m = make(name);
    for chunk in data.chunks(4096) {
        m.feed(chunk);
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    drop(m);
    held as f64 / 1e6
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let size = if quick { 5_000_000 } else { 50_000_000 };
    let runs = if quick { 1 } else { 3 };
    let streams = [("plain", streams::plain(size)), ("ansi", streams::ansi(size)), ("tui", streams::tui(size))];
    let models = ["teamster screen", "alacritty_terminal", "vt100"];

    println!("| model | plain MB/s | ANSI MB/s | TUI MB/s | heap with 10k lines of history |");
    println!("|---|---|---|---|---|");
    for name in models {
        let rates: Vec<String> = streams.iter().map(|(_, d)| format!("{:.0}", throughput(name, d, runs))).collect();
        println!("| {name} | {} | {:.1} MB |", rates.join(" | "), heap_after_history(name));
    }
}
