//! Process and file-descriptor plumbing: waiting without sleeping.
//!
//! Every wait here is on a condition the kernel reports (a pidfd or a pipe
//! becoming readable) and is bounded by a deadline, so a broken runtime fails
//! the test instead of hanging it.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Make this test process the child subreaper, once.
///
/// A container's init outlives `create`, and pid 1 on the test machines does
/// not reap orphans: as subreaper, orphaned inits become our children, so the
/// sandbox can reap them by pid and no zombie is left behind.
pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments only changes this process's flags.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(
            rc,
            0,
            "PR_SET_CHILD_SUBREAPER: {}",
            io::Error::last_os_error()
        );
    });
}

/// Wait until `fd` is readable (or hung up), or `deadline` passes.
/// Returns whether it became readable.
pub fn poll_readable(fd: RawFd, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 {
            return false;
        }
        let err = io::Error::last_os_error();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "poll: {err}");
    }
}

/// A pidfd: a handle on one process that cannot be confused with a later
/// process reusing its pid.
pub struct PidFd {
    pub pid: i32,
    fd: OwnedFd,
}

impl PidFd {
    /// Open a pidfd for `pid`; None if no such process exists.
    pub fn open(pid: i32) -> Option<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: the syscall returned a fresh fd that we now own.
        Some(PidFd {
            pid,
            fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
        })
    }

    /// Wait until the process has exited (a zombie counts), up to `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        poll_readable(self.fd.as_raw_fd(), Instant::now() + timeout)
    }

    pub fn has_exited(&self) -> bool {
        self.wait_exit(Duration::ZERO)
    }

    pub fn kill(&self, signal: i32) {
        // SAFETY: pidfd_send_signal with a valid pidfd and no siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                0usize,
                0u32,
            )
        };
        // ESRCH: it already exited, which is what killing wanted anyway.
        if rc != 0 {
            let err = io::Error::last_os_error();
            assert_eq!(
                err.raw_os_error(),
                Some(libc::ESRCH),
                "pidfd_send_signal: {err}"
            );
        }
    }
}

impl PidFd {
    /// Assert that the process exits within `TIMEOUT` (`what` names it in
    /// the failure), and reap it if it is our child: we are subreaper for
    /// whatever a runtime leaves behind, so no zombie of it stays.
    pub fn wait_gone(&self, what: &str) {
        let pid = self.pid;
        assert!(
            self.wait_exit(super::TIMEOUT),
            "{what} {pid} is still alive"
        );
        if is_our_child(pid) {
            reap(pid);
        }
    }
}

/// `PidFd::wait_gone` for `pid`, if it still exists.
pub fn wait_pid_gone(pid: i32, what: &str) {
    if let Some(p) = PidFd::open(pid) {
        p.wait_gone(what);
    }
}

/// Wait until process `pid` has exited, up to `timeout`. True if it has (or
/// was already gone).
pub fn wait_pid_exit(pid: i32, timeout: Duration) -> bool {
    match PidFd::open(pid) {
        Some(p) => p.wait_exit(timeout),
        None => true,
    }
}

/// Whether `pid` is a child of this process (orphaned container inits are,
/// since we are subreaper). Only children may be waited for.
pub fn is_our_child(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Fields after the parenthesised command: state, then ppid.
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ppid = after_comm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u32>().ok());
    ppid == Some(std::process::id())
}

/// Reap our child `pid` and return its raw wait status. Blocks until it exits:
/// only call it for a process that is dead or being killed.
pub fn reap(pid: i32) -> Option<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on one specific pid with a valid status pointer.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Some(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return None;
        }
    }
}

/// The command line of `pid`, arguments separated by spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(args.join(" "))
}

/// A named pipe in a directory the container sees, held open read-write by
/// the test.
///
/// Holding both ends means a container opening it never blocks, a reader in
/// the container gets what the test wrote even if it opens late, and the
/// test's reads never see end-of-file between two writers.
pub struct Fifo {
    pub path: PathBuf,
    fd: fs::File,
    buf: Vec<u8>,
}

impl Fifo {
    pub fn new(path: &Path) -> Fifo {
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o666) };
        assert_eq!(
            rc,
            0,
            "mkfifo {}: {}",
            path.display(),
            io::Error::last_os_error()
        );
        // The umask cut the mode; an unprivileged container user needs it.
        set_mode(path, 0o666);
        let fd = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .unwrap_or_else(|e| panic!("open fifo {}: {e}", path.display()));
        Fifo {
            path: path.to_path_buf(),
            fd,
            buf: Vec::new(),
        }
    }

    /// Read one line the container wrote, without its newline. Panics after
    /// `TIMEOUT`, saying what was expected.
    pub fn read_line(&mut self, what: &str) -> String {
        let deadline = Instant::now() + super::TIMEOUT;
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&line[..i]).into_owned();
            }
            assert!(
                poll_readable(self.fd.as_raw_fd(), deadline),
                "timed out waiting for {what} on {} (got so far: {:?})",
                self.path.display(),
                String::from_utf8_lossy(&self.buf)
            );
            self.fill();
        }
    }

    fn fill(&mut self) {
        use std::io::Read;
        let mut chunk = [0u8; 4096];
        match self.fd.read(&mut chunk) {
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read {}: {e}", self.path.display()),
        }
    }

    /// Write a line for the container to read (it is buffered in the pipe).
    pub fn write_line(&mut self, line: &str) {
        use std::io::Write;
        self.fd
            .write_all(format!("{line}\n").as_bytes())
            .expect("write fifo");
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Processes that still belong to the test named by `marker` (its unique
/// sandbox name): any whose command line names it (a runtime still working
/// on it) or whose mount table does (a container of it, whose root or mounts
/// come from the sandbox's bundle). Zombies are not counted: they hold nothing.
pub fn processes_mentioning(marker: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        let cmd = fs::read(format!("/proc/{name}/cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmd);
        let in_cmd = text.contains(marker);
        // Another sandbox's keel (or its init, a fork of keel, until it
        // execs) may hold a copy of our mounts: its mount namespace was
        // cloned from ours while a test of ours had them mounted. That copy
        // goes with its pivot_root and is not ours to report.
        let other_sandbox = !in_cmd && text.contains("/keel-test/");
        if in_cmd || (!other_sandbox && mounts_of_other_ns_mention(&name, marker)) {
            found.push(format!(
                "pid {name}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

/// Whether process `pid` lives in a mount namespace other than ours whose
/// mount table mentions `marker`. (Our own namespace is checked separately,
/// once, by `our_mounts_mentioning`.)
fn mounts_of_other_ns_mention(pid: &str, marker: &str) -> bool {
    let ns = fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    if ns.is_none() || ns == fs::read_link("/proc/thread-self/ns/mnt").ok() {
        return false;
    }
    fs::read_to_string(format!("/proc/{pid}/mountinfo")).is_ok_and(|m| m.contains(marker))
}

/// Lines of this thread's mount table that mention `marker`: mounts a
/// runtime left in the host's namespace. The thread's, not the process's:
/// a test may run its runtime in a mount namespace of its own thread's.
pub fn our_mounts_mentioning(marker: &str) -> Vec<String> {
    let table = fs::read_to_string("/proc/thread-self/mountinfo").expect("read mountinfo");
    table
        .lines()
        .filter(|l| l.contains(marker))
        .map(str::to_string)
        .collect()
}
