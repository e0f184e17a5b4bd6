//! Thin readers of what the table shows: the system-wide facts `ps` reads
//! once, and one process's files under /proc.

use super::fields::CMDLINE_MAX;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;

#[derive(Debug, thiserror::Error)]
pub enum ProcReadError {
    #[error("/proc/stat: {0}")]
    Stat(io::Error),
    #[error("/proc/stat: no btime line with the boot time")]
    NoBootTime,
}

pub use crate::procfs::stat::Stat;

/// What one process shows, as read from /proc.
pub struct Process {
    pub pid: i32,
    /// The owner of /proc/PID: the effective uid (root for a process that
    /// is not dumpable), which is what `ps` shows.
    pub uid: u32,
    pub stat: Stat,
    /// The bytes of /proc/PID/cmdline, at most `CMDLINE_MAX - 1`.
    pub cmdline: Vec<u8>,
}

/// Read process `pid`; None if it is gone (it may exit at any moment) or
/// its files cannot be read, as `ps` skips it then. A command line that
/// cannot be read is shown as none, as by `ps`.
pub fn read_process(pid: i32) -> Option<Process> {
    let dir = format!("/proc/{pid}");
    let uid = std::fs::metadata(&dir).ok()?.uid();
    let stat = crate::procfs::stat::read(pid)?;
    let cmdline = read_capped(&format!("{dir}/cmdline"), CMDLINE_MAX).unwrap_or_default();
    Some(Process {
        pid,
        uid,
        stat,
        cmdline,
    })
}

/// Up to `cap - 1` bytes of a file: libproc2 reads into a buffer of `cap`
/// bytes and, when it fills, drops the last for the terminating NUL.
fn read_capped(path: &str, cap: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(cap as u64)
        .read_to_end(&mut buf)?;
    if buf.len() == cap {
        buf.pop();
    }
    Ok(buf)
}

/// The system-wide facts of one listing.
pub struct System {
    /// Clock ticks per second.
    pub hertz: u64,
    /// Seconds since boot, from /proc/uptime (0 if unreadable, as for ps).
    pub uptime: f64,
    /// The boot time, in seconds since the epoch.
    pub btime: u32,
    /// Digits of the largest pid: the PID and PPID columns' width.
    pub pid_digits: usize,
    /// The time of the listing, in seconds since the epoch.
    pub now: i64,
}

impl System {
    pub fn read() -> Result<System, ProcReadError> {
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let stat = std::fs::read("/proc/stat").map_err(ProcReadError::Stat)?;
        Ok(System {
            hertz: if hz > 0 { hz as u64 } else { 100 },
            uptime: std::fs::read("/proc/uptime")
                .ok()
                .and_then(|t| parse_uptime(&t))
                .unwrap_or(0.0),
            btime: parse_btime(&stat).ok_or(ProcReadError::NoBootTime)?,
            pid_digits: std::fs::read("/proc/sys/kernel/pid_max").map_or(5, |t| line_len(&t)),
            // SAFETY: time with a null pointer only returns the time.
            now: unsafe { libc::time(std::ptr::null_mut()) },
        })
    }
}

/// The first number of /proc/uptime.
pub fn parse_uptime(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// The boot time from the text of /proc/stat.
pub fn parse_btime(text: &[u8]) -> Option<u32> {
    text.split(|c| *c == b'\n').find_map(|line| {
        let value = line.strip_prefix(b"btime ")?;
        std::str::from_utf8(value).ok()?.trim().parse().ok()
    })
}

/// The length of the first line of `text` (at most 23 bytes, as procps
/// reads it), without its newline: how many digits pid_max has.
fn line_len(text: &[u8]) -> usize {
    if text.is_empty() {
        return 5;
    }
    let head = &text[..text.len().min(23)];
    let line = match head.iter().position(|c| *c == b'\n') {
        Some(i) => &head[..i],
        None => head,
    };
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_facts_parse_as_procps_reads_them() {
        assert_eq!(parse_uptime(b"350735.47 234388.90\n"), Some(350735.47));
        let stat = b"cpu  1 2 3\nintr 5 6\nctxt 7\nbtime 1769000000\nprocesses 9\n";
        assert_eq!(parse_btime(stat), Some(1769000000));
        assert_eq!(parse_btime(b"cpu 1\n"), None);
        assert_eq!(line_len(b"4194304\n"), 7);
        assert_eq!(line_len(b"32768"), 5);
    }

    #[test]
    fn this_process_can_be_read() {
        let me = read_process(std::process::id() as i32).expect("read ourselves");
        assert_eq!(me.stat.ppid, std::os::unix::process::parent_id() as i32);
        assert!(!me.cmdline.is_empty());
        assert!(read_process(-1).is_none());
    }
}
