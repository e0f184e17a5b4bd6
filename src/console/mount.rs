//! /dev/console inside the container: the pty slave bind-mounted over it, so
//! programs that write to the console reach the container's terminal.

use super::pty::is_pty_slave;
use super::{describe, ConsoleError};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::fstatfs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Bind the pty slave at `slave_path` onto `/dev/console`, creating the
/// mount point if needed. Runs after pivot_root; needs /proc mounted.
pub fn bind_console(slave_path: &Path) -> Result<(), ConsoleError> {
    bind_console_at(Path::new("/dev"), slave_path)
}

/// `bind_console` with `dev_dir` in place of `/dev`.
pub fn bind_console_at(dev_dir: &Path, slave_path: &Path) -> Result<(), ConsoleError> {
    let source = open_slave_path(slave_path)?;
    let target_path = dev_dir.join("console");
    let target = open_target(&target_path)?;
    // Mount by fd (via /proc/self/fd) so what was checked is what is used,
    // whatever the paths resolve to by the time mount(2) looks them up.
    let source_link = fd_link(&source);
    let target_link = fd_link(&target);
    mount(
        Some(&source_link),
        &target_link,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| ConsoleError::Mount {
        source_path: slave_path.into(),
        target: target_path.clone(),
        error: e.into(),
    })
}

fn fd_link(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// An O_PATH handle on the slave, which must be a pty slave on a devpts.
fn open_slave_path(path: &Path) -> Result<OwnedFd, ConsoleError> {
    let open_err = |e: Errno| ConsoleError::Open {
        path: path.into(),
        error: e.into(),
    };
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = open(path, flags, Mode::empty()).map_err(open_err)?;
    let st = fstat(&fd).map_err(open_err)?;
    let fs = fstatfs(&fd).map_err(open_err)?;
    if !is_pty_slave(&st, &fs) {
        return Err(ConsoleError::NotPty {
            path: path.into(),
            found: describe(&st),
        });
    }
    Ok(fd)
}

/// An O_PATH handle on the mount point, created as an empty file (like runc,
/// mode 0666: the bind mount hides it anyway) if missing. A symlink there
/// could redirect the mount anywhere in the container, so it is refused.
fn open_target(path: &Path) -> Result<OwnedFd, ConsoleError> {
    let open_err = |e: Errno| ConsoleError::Open {
        path: path.into(),
        error: e.into(),
    };
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match open(path, flags, Mode::empty()) {
        Ok(fd) => {
            let st = fstat(&fd).map_err(open_err)?;
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                return Err(ConsoleError::ConsoleSymlink { path: path.into() });
            }
            Ok(fd)
        }
        Err(Errno::ENOENT) => {
            let create = OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_RDONLY
                | OFlag::O_CLOEXEC;
            let mode = Mode::from_bits_truncate(0o666);
            open(path, create, mode).map_err(open_err)
        }
        Err(e) => Err(open_err(e)),
    }
}
