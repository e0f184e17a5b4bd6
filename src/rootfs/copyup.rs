//! `tmpcopyup`: a fresh tmpfs over an image directory starts with a copy
//! of what the directory held. The copy works on directory fds only and
//! never follows a symlink, so the image cannot point it elsewhere.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::unistd::{Gid, Uid};

/// How deep the copy goes before giving up: a tree deeper than this is
/// not a directory anyone means to copy into memory.
const MAX_DEPTH: usize = 128;

fn to_io(e: nix::Error) -> io::Error {
    e.into()
}

/// Copy everything in `src` into `dst` (both directories), with owners,
/// modes and file contents; then give `dst` the owner of `src`.
pub fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    let st = nix::sys::stat::fstat(src).map_err(to_io)?;
    copy_dir(src, dst, 0)?;
    nix::unistd::fchown(
        dst,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .map_err(to_io)
}

fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    nix::fcntl::openat(dir, name, flags, Mode::empty()).map_err(to_io)
}

fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "directory tree deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut dir = nix::dir::Dir::from_fd(nix::unistd::dup(src).map_err(to_io)?).map_err(to_io)?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let st = nix::sys::stat::fstatat(src, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(to_io)?;
        copy_entry(src, dst, &name, &st, depth)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy())))?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    st: &FileStat,
    depth: usize,
) -> io::Result<()> {
    let kind = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
    let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
    let owner = (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    match kind {
        SFlag::S_IFDIR => {
            nix::sys::stat::mkdirat(dst, name, Mode::from_bits_truncate(0o700)).map_err(to_io)?;
            let (from, to) = (open_dir(src, name)?, open_dir(dst, name)?);
            copy_dir(from.as_fd(), to.as_fd(), depth + 1)?;
        }
        SFlag::S_IFREG => copy_file(src, dst, name)?,
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(src, name).map_err(to_io)?;
            nix::unistd::symlinkat(target.as_os_str(), dst, name).map_err(to_io)?;
            return nix::unistd::fchownat(
                dst,
                name,
                owner.0,
                owner.1,
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(to_io);
        }
        _ => {
            nix::sys::stat::mknodat(dst, name, kind, perm, st.st_rdev).map_err(to_io)?;
        }
    }
    nix::unistd::fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(to_io)?;
    // After the chown, which clears set-id bits.
    nix::sys::stat::fchmodat(
        dst,
        name,
        perm,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(to_io)
}

fn copy_file(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let from = nix::fcntl::openat(
        src,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(to_io)?;
    let to = nix::fcntl::openat(
        dst,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(to_io)?;
    let mut from = std::fs::File::from(from);
    let mut to = std::fs::File::from(to);
    io::copy(&mut from, &mut to)?;
    Ok(())
}
