//! Each pane's screen and scrollback, kept on disk so that a restarted runner (an upgrade,
//! `teamster restart`, a crash) shows what the panes showed.
//!
//! A pane's lines are kept as the terminal text that draws them (styles as SGR, links as
//! OSC 8), gzip-compressed, one file per pane named by its stable key, readable by the
//! user only: `screens/KEY.gz` in the state directory. Bounded as the scrollback is
//! (`scrollback_lines`). A restored pane is fed that text before its program starts, then a
//! line that says where the restart was; the program's output follows.
//!
//! Written at `teamster restart`, and every `EVERY` for the panes whose screen changed (a
//! crash loses at most that much). Under the pane's screen lock, which the runner's thread
//! may be waiting on, only a copy of the lines is made (the scrollback as it is kept,
//! compact); the text is made, compressed and written from the copy on the saver's own
//! thread (at a restart, on a blocking one).

use super::Runner;
use crate::protocol::WireRow;
use crate::screen::Lines;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How often changed screens are saved.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The most bytes of terminal text a restored screen may hold (a bound on a file that
/// someone else could have written into the state directory).
const MAX_TEXT: u64 = 64 << 20;

/// The terminal text that draws a screen's scrollback and rows (`Screen::copy_lines`),
/// from its oldest line to its last non-blank one. A line that wrapped onto the next is
/// padded to the width, so it wraps again where it did.
pub fn text_of(lines: &Lines) -> Vec<u8> {
    let rows = WireRow::of_lines(lines);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push_str(&row.ansi());
        if row.wrapped {
            let width: usize = row.runs.iter().map(|r| r.width()).sum();
            out.push_str(&" ".repeat(lines.cols.saturating_sub(width)));
        } else if i + 1 < rows.len() {
            out.push_str("\r\n");
        }
    }
    out.into_bytes()
}

/// What a restored pane shows first: its old lines, then where the restart was.
pub fn restored_preface(text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    if !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\x1b[0m\x1b[2m-- teamster restarted: above is what this pane showed --\x1b[0m\r\n");
    out
}

pub fn file_of(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.gz"))
}

/// Compresses and writes `text` to `path` (0600, through no symlink).
pub fn save(dir: &Path, key: &str, text: &[u8]) -> std::io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text)?;
    let bytes = gz.finish()?;
    crate::paths::ensure_private_dir(dir)?;
    crate::nofollow::write(&crate::nofollow::base_of(dir)?, &file_of(dir, key), &bytes)
}

/// The text kept for `key`, if any; a file that does not read back is no text.
pub fn load(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let packed = crate::nofollow::read(&file_of(dir, key), MAX_TEXT).ok()?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(packed.as_slice()).take(MAX_TEXT).read_to_end(&mut text).ok()?;
    Some(text)
}

/// Removes the files of panes that are gone (not among `keep`).
pub fn prune(dir: &Path, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_suffix(".gz") else { continue };
        if !keep.iter().any(|k| k == key) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes each captured screen (its text made here, off the runner's thread); failures are
/// logged.
pub fn write_all(dir: &Path, screens: Vec<(String, Lines)>) {
    for (key, lines) in screens {
        if let Err(e) = save(dir, &key, &text_of(&lines)) {
            super::log(&format!("cannot keep a pane's screen in {}: {e}", dir.display()));
        }
    }
}

impl Runner {
    /// A copy of each pane's lines (of those changed since last written, with
    /// `only_changed`), by pane key. Each screen's lock is held only while it is copied.
    pub(super) fn capture_screens(&self, only_changed: bool) -> Vec<(String, Lines)> {
        let panes: Vec<Arc<super::pane::Pane>> = self.state.lock().panes.values().cloned().collect();
        let mut out = Vec::new();
        for pane in panes {
            let key = pane.meta.lock().spec.key.clone();
            // Only a copy is made under the screen's lock (the runner's thread may be
            // waiting on it); the text is made from the copy, elsewhere.
            let (mark, lines) = {
                let screen = pane.screen.lock();
                let mark = (screen.generation(), screen.epoch());
                if only_changed && self.screens_saved.lock().get(&key) == Some(&mark) {
                    continue;
                }
                (mark, screen.copy_lines())
            };
            self.screens_saved.lock().insert(key.clone(), mark);
            out.push((key, lines));
        }
        out
    }

    /// A pane closed for good: its kept screen is removed (off the caller's thread).
    pub(super) fn forget_screen(&self, key: &str) {
        self.screens_saved.lock().remove(key);
        let file = file_of(&self.screens_dir, key);
        let remove = move || {
            let _ = std::fs::remove_file(file);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// Saves changed screens every `EVERY`, on a thread of its own, while the runner lives.
pub fn start_saver(runner: &Arc<Runner>) {
    let weak = Arc::downgrade(runner);
    let spawned = std::thread::Builder::new().name("screen-saver".into()).spawn(move || {
        loop {
            std::thread::sleep(EVERY);
            let Some(runner) = weak.upgrade() else { return };
            if runner.restarting.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let screens = runner.capture_screens(true);
            let dir = runner.screens_dir.clone();
            drop(runner);
            write_all(&dir, screens);
        }
    });
    if let Err(e) = spawned {
        super::log(&format!("screens will not be kept between restarts: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::Screen;

    #[test]
    fn a_screen_comes_back_as_it_was_styles_wraps_and_scrollback() {
        let mut s = Screen::new(20, 5, 100);
        for i in 0..12 {
            s.feed(format!("line {i}\r\n").as_bytes());
        }
        s.feed(b"\x1b[31mred\x1b[0m \x1b]8;;https://x.test/\x07link\x1b]8;;\x07\r\n");
        s.feed(b"0123456789012345678901234"); // wraps once
        let text = text_of(&s.copy_lines());
        let mut back = Screen::new(20, 5, 100);
        back.feed(&text);
        let all = |s: &Screen| -> Vec<String> {
            (s.first_line()..s.end_line()).filter_map(|a| s.line(a).map(|r| r.text())).collect()
        };
        let (was, is) = (all(&s), all(&back));
        let trimmed = |v: Vec<String>| {
            let n = v.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
            v[..n].to_vec()
        };
        assert_eq!(trimmed(is), trimmed(was));
        let red = back.line(back.first_line() + 12).expect("the red line");
        assert_eq!(red.cell(0).style.fg, crate::screen::Color::Indexed(1));
        assert_eq!(back.links().url(red.cell(4).style.link), Some("https://x.test/"));
        let wraps =
            |s: &Screen| (s.first_line()..s.end_line()).filter(|a| s.line(*a).is_some_and(|r| r.wrapped)).count();
        assert_eq!(wraps(&back), wraps(&s), "the long line wraps again");
    }

    #[test]
    fn saved_text_reads_back_and_a_bad_file_is_no_text() {
        let dir = std::env::temp_dir().join(format!("teamster-screens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        save(&dir, "k1", b"hello\r\n").unwrap();
        assert_eq!(load(&dir, "k1").as_deref(), Some(&b"hello\r\n"[..]));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file_of(&dir, "k1")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by the user only");
        std::fs::write(file_of(&dir, "k2"), b"not gzip").unwrap();
        assert_eq!(load(&dir, "k2"), None);
        assert_eq!(load(&dir, "nothing"), None);
        prune(&dir, &["k1".to_string()]);
        assert!(file_of(&dir, "k1").exists() && !file_of(&dir, "k2").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
