//! Allocating the container's pty and making its slave the controlling
//! terminal.

use super::{describe, tty_err, ConsoleError, Pty};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, makedev, Mode};
use nix::sys::statfs::{fstatfs, DEVPTS_SUPER_MAGIC};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// TTYAUX_MAJOR:2, the number of both /dev/ptmx and devpts' pts/ptmx.
const PTMX_DEV: (u64, u64) = (5, 2);
/// UNIX98_PTY_SLAVE_MAJOR. devpts gives slave N the number 136:N (the minor
/// is not split over 136..=143 as the static major range might suggest).
const PTY_SLAVE_MAJOR: u64 = 136;

/// Allocate a pty from `/dev/ptmx` (inside the container after pivot_root
/// that is a symlink to its own devpts' `pts/ptmx`). `size` is
/// (rows, cols), i.e. `process.consoleSize` (height, width).
pub fn setup_pty(size: Option<(u16, u16)>) -> Result<Pty, ConsoleError> {
    let ptmx = Path::new("/dev/ptmx");
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = open(ptmx, flags, Mode::empty()).map_err(|e| ConsoleError::Open {
        path: ptmx.into(),
        error: e.into(),
    })?;
    let st = fstat(&master).map_err(|e| ConsoleError::Open {
        path: ptmx.into(),
        error: e.into(),
    })?;
    let is_ptmx =
        st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == makedev(PTMX_DEV.0, PTMX_DEV.1);
    if !is_ptmx {
        return Err(ConsoleError::NotPtmx {
            path: ptmx.into(),
            found: describe(&st),
        });
    }
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })
        .map_err(tty_err("unlock pty"))?;
    let number = pty_number(master.as_fd())?;
    let slave = open_peer(master.as_fd(), number)?;
    if let Some((rows, cols)) = size {
        set_winsize(master.as_fd(), rows, cols)?;
    }
    let slave_path = PathBuf::from(format!("/dev/pts/{number}"));
    Ok(Pty {
        master,
        slave,
        slave_path,
    })
}

fn pty_number(master: BorrowedFd<'_>) -> Result<u32, ConsoleError> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) })
        .map_err(tty_err("get pty number"))?;
    Ok(number)
}

/// The slave end: TIOCGPTPEER reaches it through the master's own devpts
/// without any path lookup; kernels before 4.13 lack it, so fall back to
/// /dev/pts/N, which must then prove to be that very slave.
fn open_peer(master: BorrowedFd<'_>, number: u32) -> Result<OwnedFd, ConsoleError> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if fd < 0 {
        return match Errno::last() {
            Errno::EINVAL | Errno::ENOTTY => open_slave_by_path(number),
            e => Err(tty_err("open pty slave")(e)),
        };
    }
    // SAFETY: the kernel just returned this fd to us.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    let path = PathBuf::from(format!("/dev/pts/{number}"));
    verify_slave(slave.as_fd(), &path, number)?;
    Ok(slave)
}

pub(super) fn open_slave_by_path(number: u32) -> Result<OwnedFd, ConsoleError> {
    let path = PathBuf::from(format!("/dev/pts/{number}"));
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let slave = open(&path, flags, Mode::empty()).map_err(|e| ConsoleError::Open {
        path: path.clone(),
        error: e.into(),
    })?;
    verify_slave(slave.as_fd(), &path, number)?;
    Ok(slave)
}

/// `fd` must be pty slave `number` on a devpts: a file planted at
/// /dev/pts/N (or a different pty) must not stand in for it.
pub(super) fn verify_slave(
    fd: BorrowedFd<'_>,
    path: &Path,
    number: u32,
) -> Result<(), ConsoleError> {
    let open_err = |e: Errno| ConsoleError::Open {
        path: path.into(),
        error: e.into(),
    };
    let st = fstat(fd).map_err(open_err)?;
    let fs = fstatfs(fd).map_err(open_err)?;
    let ok = st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && st.st_rdev == makedev(PTY_SLAVE_MAJOR, u64::from(number))
        && fs.filesystem_type() == DEVPTS_SUPER_MAGIC;
    if ok {
        return Ok(());
    }
    let mut found = describe(&st);
    if fs.filesystem_type() != DEVPTS_SUPER_MAGIC {
        found.push_str(" outside devpts");
    }
    Err(ConsoleError::NotPtySlave {
        path: path.into(),
        number,
        found,
    })
}

/// Whether `st` is some pty slave on a devpts (any number).
pub(super) fn is_pty_slave(st: &nix::sys::stat::FileStat, fs: &nix::sys::statfs::Statfs) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && nix::sys::stat::major(st.st_rdev) == PTY_SLAVE_MAJOR
        && fs.filesystem_type() == DEVPTS_SUPER_MAGIC
}

pub(super) fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), ConsoleError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })
        .map_err(tty_err("set terminal window size"))?;
    Ok(())
}

/// Make `slave` the process's stdin/stdout/stderr and its controlling
/// terminal. The caller must already be a session leader (setsid).
pub fn make_controlling(slave: &OwnedFd) -> Result<(), ConsoleError> {
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard fds, which we mean to replace.
        Errno::result(unsafe { libc::dup2(slave.as_raw_fd(), target) })
            .map_err(tty_err("make the console the container's stdio"))?;
    }
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal).
    Errno::result(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) })
        .map_err(tty_err("make the console the controlling terminal"))?;
    Ok(())
}
