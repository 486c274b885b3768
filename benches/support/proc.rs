//! What /proc says of a process, for the benches that measure one.

/// A field of /proc/PID/status (`key` as it starts the line, e.g. "VmRSS"): its number,
/// in kB for sizes; 0 if the process or the field is gone.
pub fn status(pid: impl std::fmt::Display, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
