//! Root-test fixtures: a cgroup under `/keel-test/<pid>-<n>` that is
//! removed (with its `/keel-test` parent, when empty) even if the test
//! panics, and forked children that run a fixed, async-signal-safe body
//! once told to, report up to four numbers, and exit when the test drops
//! them. Waiting is always on a pipe, never a sleep.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::cgroups::path::host_dir;
use crate::cgroups::{fs, Cgroup};

pub const PARENT: &str = "/keel-test";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Fixture {
    pub cg: Cgroup,
    /// Processes the test forked and has not reaped: killed and reaped on
    /// drop (a reaped pid may already belong to someone else).
    forked: Rc<RefCell<Vec<i32>>>,
}

/// Root on a host with v1 controllers (this project's machine); other
/// hosts skip, saying why.
pub fn fixture() -> Option<Fixture> {
    let fx = fixture_any()?;
    if fx.cg.layout().v1("memory").is_none() {
        eprintln!("skipped: these tests are for a v1 or hybrid host");
        return None;
    }
    Some(fx)
}

/// Root on a host with a cgroup2 hierarchy (pure v2, or hybrid like this
/// project's machine, whose cgroup2 takes device programs, cgroup.freeze
/// and cgroup.kill whatever controllers it offers).
pub fn fixture_v2() -> Option<Fixture> {
    let fx = fixture_any()?;
    if fx.cg.unified_dir().is_none() {
        eprintln!("skipped: no cgroup2 hierarchy");
        return None;
    }
    Some(fx)
}

fn fixture_any() -> Option<Fixture> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: cgroup tests need root");
        return None;
    }
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let path = PathBuf::from(format!("{PARENT}/{}-{n}", std::process::id()));
    let cg = Cgroup::for_container(Some(&path), "unused").expect("layout");
    // Grandchildren orphaned by a failing test come back to us to reap.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    Some(Fixture {
        cg,
        forked: Rc::default(),
    })
}

pub fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

impl Fixture {
    /// Every directory of the cgroup, one per hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let l = self.cg.layout();
        l.v1.iter()
            .chain(&l.unified)
            .map(|h| host_dir(h, self.cg.path()).unwrap())
            .collect()
    }

    pub fn read(&self, controller: &str, file: &str) -> String {
        let dir = match controller {
            "unified" => self.cg.unified_dir(),
            c => self.cg.v1_dir(c),
        };
        let path = dir.expect("hierarchy").join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_string()
    }

    pub fn assert_gone(&self) {
        for d in self.dirs() {
            assert!(!d.exists(), "{} is left", d.display());
        }
    }

    /// Fork a child that waits for `go`, runs `body`, reports, then waits
    /// for the test to drop it. `body` runs in a fork of a multi-threaded
    /// process, so it must stick to async-signal-safe calls.
    pub fn spawn(&self, body: fn(&mut [i32; 4], RawFd)) -> Child {
        let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (res_r, res_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        // SAFETY: the child runs only async-signal-safe code before _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            child_main(go_r.as_raw_fd(), res_w.as_raw_fd(), body);
        }
        self.forked.borrow_mut().push(pid);
        Child {
            pid,
            forked: self.forked.clone(),
            go: Some(go_w),
            res: res_r,
        }
    }
}

/// Keep only the two pipe ends: other tests' pipes must not stay open in
/// this child, or their children would never see end-of-file.
fn child_main(go: RawFd, res: RawFd, body: fn(&mut [i32; 4], RawFd)) -> ! {
    // SAFETY: raw syscalls on fds of this (single-threaded) child.
    unsafe {
        let (lo, hi) = (go.min(res), go.max(res));
        libc::syscall(libc::SYS_close_range, 3, lo - 1, 0);
        libc::syscall(libc::SYS_close_range, lo + 1, hi - 1, 0);
        libc::syscall(libc::SYS_close_range, hi + 1, u32::MAX, 0);
        let mut byte = 0u8;
        if libc::read(go, (&mut byte as *mut u8).cast(), 1) != 1 {
            libc::_exit(2);
        }
        let mut out = [0i32; 4];
        body(&mut out, go);
        libc::write(res, out.as_ptr().cast(), std::mem::size_of_val(&out));
        // Until the test closes `go`.
        while libc::read(go, (&mut byte as *mut u8).cast(), 1) > 0 {}
        while libc::waitpid(-1, std::ptr::null_mut(), 0) > 0 {}
        libc::_exit(0);
    }
}

pub struct Child {
    pub pid: i32,
    forked: Rc<RefCell<Vec<i32>>>,
    go: Option<OwnedFd>,
    res: OwnedFd,
}

impl Child {
    /// Let the child run its body, and read what it reports.
    pub fn go(&self) -> [i32; 4] {
        let fd = self.go.as_ref().expect("not finished");
        assert_eq!(nix::unistd::write(fd, b"g").unwrap(), 1);
        let mut buf = [0u8; 16];
        let mut got = 0;
        while got < buf.len() {
            let n = nix::unistd::read(&self.res, &mut buf[got..]).unwrap();
            assert!(n > 0, "child {} exited without reporting", self.pid);
            got += n;
        }
        let num = |i: usize| i32::from_ne_bytes(buf[i * 4..i * 4 + 4].try_into().unwrap());
        [num(0), num(1), num(2), num(3)]
    }

    /// Close `go`: the child (and any grandchild reading it) exits.
    pub fn release(&mut self) {
        self.go = None;
    }

    /// Reap without releasing (the child was killed); the wait status.
    pub fn reap(self) -> nix::sys::wait::WaitStatus {
        let status = waitpid(Pid::from_raw(self.pid), None).unwrap();
        self.forked.borrow_mut().retain(|p| *p != self.pid);
        status
    }

    /// Release and reap; the exit code.
    pub fn finish(mut self) -> i32 {
        self.release();
        let status = waitpid(Pid::from_raw(self.pid), None).unwrap();
        self.forked.borrow_mut().retain(|p| *p != self.pid);
        match status {
            nix::sys::wait::WaitStatus::Exited(_, code) => code,
            other => panic!("child {}: {other:?}", self.pid),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Frozen tasks would not act on SIGKILL until thawed.
        let _ = self.cg.thaw();
        let mut pids = self.forked.borrow().clone();
        pids.extend(self.cg.pids().unwrap_or_default());
        for &pid in &pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        for &pid in &pids {
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        if let Err(e) = self.cg.remove() {
            eprintln!("cleanup: {e}");
        }
        for h in self.cg.layout().v1.iter().chain(&self.cg.layout().unified) {
            fs::prune(&h.mount_point.join(&PARENT[1..]));
        }
    }
}

pub fn proc_state(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The major:minor of a block device of this machine.
pub fn block_device() -> (u32, u32) {
    for entry in std::fs::read_dir("/sys/block").unwrap().flatten() {
        let dev = std::fs::read_to_string(entry.path().join("dev")).unwrap_or_default();
        if let Some((a, b)) = dev.trim().split_once(':') {
            if !entry.file_name().to_string_lossy().starts_with("loop") {
                return (a.parse().unwrap(), b.parse().unwrap());
            }
        }
    }
    panic!("no block device");
}

pub fn errno() -> i32 {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// For a child's report: errno (or 0) of each open in `tries`, in order.
pub fn try_opens(tries: &[(&[u8], i32)], out: &mut [i32; 4]) {
    for (i, (path, flags)) in tries.iter().enumerate() {
        // SAFETY: NUL-terminated path; the fd is closed at once.
        let fd = unsafe { libc::open(path.as_ptr().cast(), *flags) };
        out[i] = if fd < 0 { errno() } else { 0 };
        if fd >= 0 {
            // SAFETY: the fd was just opened here.
            unsafe { libc::close(fd) };
        }
    }
}
