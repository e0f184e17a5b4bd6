//! Waiting on cgroup.events: the kernel wakes pollers of that file
//! (POLLPRI) whenever a key in it changes ("populated", "frozen"), so a
//! wait for a value is a wait on the kernel's own event, bounded by a
//! deadline rather than paced by sleeps.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The value of `key` in cgroup.events text.
pub fn value<'t>(events: &'t str, key: &str) -> Option<&'t str> {
    events
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .map(str::trim)
}

/// Wait until `key` reads `want` in `dir`'s cgroup.events, for at most
/// `limit`. Err says what was seen instead.
pub fn wait(dir: &Path, key: &str, want: &str, limit: Duration) -> Result<(), String> {
    let file = File::open(dir.join("cgroup.events")).map_err(|e| format!("open: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        let mut buf = [0u8; 256];
        let n = file
            .read_at(&mut buf, 0)
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        match value(&text, key) {
            Some(v) if v == want => return Ok(()),
            Some(_) => {}
            None => return Err(format!("no {key:?} line in {text:?}")),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{key} is not {want} after {}s", limit.as_secs()));
        }
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, ms) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("poll: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let text = "populated 1\nfrozen 0\n";
        assert_eq!(value(text, "populated"), Some("1"));
        assert_eq!(value(text, "frozen"), Some("0"));
        assert_eq!(value(text, "froze"), None);
    }
}
