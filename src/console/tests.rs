use super::mount::bind_console_at;
use super::pty::{open_slave_by_path, verify_slave};
use super::*;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::stat::{fstat, makedev, stat};
use nix::sys::termios::{tcgetattr, LocalFlags};
use nix::unistd::{fork, pipe2, ForkResult};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("keel-console-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn number_of(pty: &Pty) -> u32 {
    let name = pty.slave_path.file_name().unwrap().to_str().unwrap();
    name.parse().unwrap()
}

fn is_cloexec(fd: BorrowedFd<'_>) -> bool {
    let flags = fcntl(fd, FcntlArg::F_GETFD).unwrap();
    FdFlag::from_bits_retain(flags).contains(FdFlag::FD_CLOEXEC)
}

fn winsize_of(fd: BorrowedFd<'_>) -> (u16, u16) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) },
        0
    );
    (ws.ws_row, ws.ws_col)
}

fn write_all(fd: BorrowedFd<'_>, data: &[u8]) {
    assert_eq!(nix::unistd::write(fd, data).unwrap(), data.len());
}

/// Read exactly `len` bytes (blocking until the pty delivers them).
fn read_exact(fd: BorrowedFd<'_>, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = nix::unistd::read(fd, &mut out[got..]).unwrap();
        assert!(n > 0, "unexpected EOF");
        got += n;
    }
    out
}

fn dev_null() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

/// Run `f` in a forked child (for what would disturb the test process:
/// mount namespaces, stdio, sessions); its error message fails the test.
fn in_child(f: impl FnOnce() -> Result<(), String>) {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    // SAFETY: the child runs `f` and _exits without returning to the harness.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(r);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let msg = match result {
                Ok(Ok(())) => String::new(),
                Ok(Err(msg)) => msg,
                Err(_) => "child panicked".to_string(),
            };
            let _ = nix::unistd::write(&w, msg.as_bytes());
            // SAFETY: leaving the forked child without running atexit hooks.
            unsafe { libc::_exit(i32::from(!msg.is_empty())) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            std::fs::File::from(r).read_to_string(&mut msg).unwrap();
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert!(msg.is_empty(), "{msg}");
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
        }
    }
}

#[test]
fn setup_pty_gives_a_verified_pair() {
    let pty = setup_pty(None).unwrap();
    let n = number_of(&pty);
    let st = fstat(&pty.slave).unwrap();
    assert_eq!(st.st_rdev, makedev(136, u64::from(n)));
    assert_eq!(stat(&pty.slave_path).unwrap().st_rdev, st.st_rdev);
    assert!(is_cloexec(pty.master.as_fd()) && is_cloexec(pty.slave.as_fd()));
}

#[test]
fn setup_pty_applies_the_console_size() {
    let pty = setup_pty(Some((24, 81))).unwrap();
    assert_eq!(winsize_of(pty.slave.as_fd()), (24, 81));
}

#[test]
fn slave_by_path_is_verified() {
    let pty = setup_pty(None).unwrap();
    let other = setup_pty(None).unwrap();
    let n = number_of(&pty);
    let slave = open_slave_by_path(n).unwrap();
    assert_eq!(
        fstat(&slave).unwrap().st_rdev,
        fstat(&pty.slave).unwrap().st_rdev
    );

    let path = Path::new("/dev/pts/x");
    let err = verify_slave(dev_null().as_fd(), path, n).unwrap_err();
    let want = format!(
        "\"/dev/pts/x\" is not the slave of pty {n}: it is a char device 1:3 outside devpts"
    );
    assert_eq!(err.to_string(), want);
    let err = verify_slave(other.slave.as_fd(), path, n).unwrap_err();
    assert!(matches!(err, ConsoleError::NotPtySlave { .. }), "{err}");
}

#[test]
fn master_passes_over_a_socketpair_and_carries_data() {
    let pty = setup_pty(None).unwrap();
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    send_master(&a, &pty.master, pty.slave_path.to_str().unwrap()).unwrap();
    let master = recv_master(&b).unwrap();
    assert!(is_cloexec(master.as_fd()));
    // Raw mode on the slave: no echo, no newline translation.
    let _raw = RawMode::enter(pty.slave.as_fd()).unwrap().unwrap();
    write_all(master.as_fd(), b"ping");
    assert_eq!(read_exact(pty.slave.as_fd(), 4), b"ping");
    write_all(pty.slave.as_fd(), b"pong");
    assert_eq!(read_exact(master.as_fd(), 4), b"pong");
}

#[test]
fn recv_master_rejects_messages_without_exactly_one_fd() {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    write_all(a.as_fd(), b"/dev/pts/0");
    let err = recv_master(&b).unwrap_err();
    assert_eq!(
        err.to_string(),
        "receive console master fd: expected 1 fd, got 0"
    );
    drop(a);
    assert!(matches!(recv_master(&b), Err(ConsoleError::Recv { .. })));
}

#[test]
fn console_socket_round_trip() {
    let tmp = TempDir::new();
    let path = tmp.0.join("console.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let sock = connect_socket(&path).unwrap();
    assert!(is_cloexec(sock.as_fd()));
    let (conn, _) = listener.accept().unwrap();
    let pty = setup_pty(None).unwrap();
    send_master(&sock, &pty.master, "").unwrap();
    let master = recv_master(&OwnedFd::from(conn)).unwrap();
    assert_eq!(
        fstat(&master).unwrap().st_ino,
        fstat(&pty.master).unwrap().st_ino
    );

    let missing = tmp.0.join("missing.sock");
    let err = connect_socket(&missing).unwrap_err();
    let want =
        format!("connect to console socket {missing:?}: No such file or directory (os error 2)");
    assert_eq!(err.to_string(), want);
}

#[test]
fn raw_mode_round_trip_restores_termios() {
    let pty = setup_pty(None).unwrap();
    let before = tcgetattr(&pty.slave).unwrap();
    let guard = RawMode::enter(pty.slave.as_fd()).unwrap().unwrap();
    let during = tcgetattr(&pty.slave).unwrap();
    assert!(!during
        .local_flags
        .intersects(LocalFlags::ICANON | LocalFlags::ECHO));
    drop(guard);
    let after = tcgetattr(&pty.slave).unwrap();
    assert_eq!(after.local_flags, before.local_flags);
    assert_eq!(after.input_flags, before.input_flags);
    assert_eq!(after.output_flags, before.output_flags);
    assert_eq!(after.control_flags, before.control_flags);
    assert_eq!(after.control_chars, before.control_chars);
    assert!(RawMode::enter(dev_null().as_fd()).unwrap().is_none());
}

#[test]
fn copy_winsize_mirrors_the_size() {
    let from = setup_pty(Some((30, 100))).unwrap();
    let to = setup_pty(Some((1, 1))).unwrap();
    copy_winsize(from.slave.as_fd(), to.master.as_fd()).unwrap();
    assert_eq!(winsize_of(to.slave.as_fd()), (30, 100));
    copy_winsize(dev_null().as_fd(), to.master.as_fd()).unwrap();
    assert_eq!(winsize_of(to.slave.as_fd()), (30, 100));
}

#[test]
fn pump_copies_then_reports_the_end_once_the_slave_closes() {
    let Pty { master, slave, .. } = setup_pty(None).unwrap();
    let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    write_all(slave.as_fd(), b"hello");
    assert!(pump(master.as_fd(), w.as_fd()).unwrap());
    assert_eq!(read_exact(r.as_fd(), 5), b"hello");
    drop(slave);
    assert!(!pump(master.as_fd(), w.as_fd()).unwrap());
}

#[test]
fn bind_console_in_a_private_mount_namespace() {
    let tmp = TempDir::new();
    let links = TempDir::new();
    std::os::unix::fs::symlink("/etc/hostname", links.0.join("console")).unwrap();
    let pty = setup_pty(None).unwrap();
    in_child(|| {
        use nix::mount::{mount, MsFlags};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(|e| e.to_string())?;
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        mount(None::<&str>, "/", None::<&str>, private, None::<&str>).map_err(|e| e.to_string())?;
        check_bound_console(&tmp.0, &links.0, &pty)
    });
    // The bind happened only in the child's namespace: here it is the plain
    // file created as the mount point.
    let meta = std::fs::symlink_metadata(tmp.0.join("console")).unwrap();
    assert!(meta.is_file() && meta.len() == 0);
}

/// Runs inside the private mount namespace of `in_child`.
fn check_bound_console(dev: &Path, links: &Path, pty: &Pty) -> Result<(), String> {
    bind_console_at(dev, &pty.slave_path).map_err(|e| e.to_string())?;
    let console = dev.join("console");
    let st = stat(&console).map_err(|e| e.to_string())?;
    if st.st_rdev != fstat(&pty.slave).unwrap().st_rdev {
        return Err(format!("{console:?} is not the pty slave after binding"));
    }
    let err = bind_console_at(links, &pty.slave_path)
        .err()
        .map(|e| e.to_string());
    let want = format!(
        "{:?} is a symlink; refusing to mount the console over it",
        links.join("console")
    );
    if err.as_deref() != Some(want.as_str()) {
        return Err(format!("symlinked console: got {err:?}"));
    }
    match bind_console_at(dev, Path::new("/dev/null")) {
        Err(ConsoleError::NotPty { .. }) => Ok(()),
        other => Err(format!("/dev/null as the slave: got {other:?}")),
    }
}

#[test]
fn make_controlling_sets_stdio_and_the_controlling_terminal() {
    let pty = setup_pty(None).unwrap();
    in_child(|| {
        let sid = nix::unistd::setsid().map_err(|e| e.to_string())?;
        make_controlling(&pty.slave).map_err(|e| e.to_string())?;
        let slave_dev = fstat(&pty.slave).unwrap().st_rdev;
        for fd in 0..=2 {
            // SAFETY: fds 0..=2 are open (just dup'ed onto) for the child's life.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            if fstat(fd).map_err(|e| e.to_string())?.st_rdev != slave_dev {
                return Err(format!("fd {} is not the slave", fd.as_raw_fd()));
            }
        }
        // SAFETY: plain query on fd 0.
        let tty_sid = unsafe { libc::tcgetsid(0) };
        if tty_sid != sid.as_raw() {
            return Err(format!("controlling tty session is {tty_sid}, want {sid}"));
        }
        Ok(())
    });
}
