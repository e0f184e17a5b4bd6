//! linux.sysctl, domainname and the loopback link: settings that belong to
//! the container's own namespaces (checked in config validation).

use crate::procfs::{ProcError, ProcRoot};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
#[error("linux.sysctl.{key}: write {value:?}: {source}")]
pub struct SysctlError {
    key: String,
    value: String,
    source: ProcError,
}

/// Write each sysctl, in key order, through `proc`, a procfs keel
/// verified: the container's "/proc" path may not lead to procfs any more
/// (see procfs.rs).
pub fn apply(proc: &ProcRoot, map: &HashMap<String, String>) -> Result<(), SysctlError> {
    let mut keys: Vec<_> = map.keys().collect();
    keys.sort();
    for key in keys {
        let value = &map[key];
        proc.write(&format!("sys/{}", key.replace('.', "/")), value)
            .map_err(|source| SysctlError {
                key: key.clone(),
                value: value.clone(),
                source,
            })?;
    }
    Ok(())
}

pub fn set_domainname(name: &str) -> std::io::Result<()> {
    // SAFETY: pointer and length of a live byte slice.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if ret != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A new network namespace starts with `lo` down; runc and crun bring it up.
pub fn loopback_up() -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: socket() returns a new fd or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is new and ours.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS with a valid ifreq.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
