//! Container terminals: the pty, the console socket, and the relay.
//!
//! INTERFACE CONTRACT (filled in by the console work).

use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("console: not implemented yet")]
    NotImplemented,
}

/// Connect to the unix stream socket given by `--console-socket`.
pub fn connect_socket(_path: &Path) -> Result<OwnedFd, ConsoleError> {
    Err(ConsoleError::NotImplemented)
}

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub slave_path: std::path::PathBuf,
}
pub fn setup_pty(_size: Option<(u16, u16)>) -> Result<Pty, ConsoleError> {
    Err(ConsoleError::NotImplemented)
}
pub fn bind_console(_p: &Path) -> Result<(), ConsoleError> {
    Err(ConsoleError::NotImplemented)
}
pub fn make_controlling(_s: &OwnedFd) -> Result<(), ConsoleError> {
    Err(ConsoleError::NotImplemented)
}
pub fn send_master(_s: &OwnedFd, _m: &OwnedFd, _n: &str) -> Result<(), ConsoleError> {
    Err(ConsoleError::NotImplemented)
}
pub fn recv_master(_s: &OwnedFd) -> Result<OwnedFd, ConsoleError> {
    Err(ConsoleError::NotImplemented)
}
pub struct RawMode;
impl RawMode {
    pub fn enter(_fd: std::os::fd::BorrowedFd) -> Result<Option<RawMode>, ConsoleError> {
        Ok(None)
    }
}
pub fn copy_winsize(
    _a: std::os::fd::BorrowedFd,
    _b: std::os::fd::BorrowedFd,
) -> Result<(), ConsoleError> {
    Ok(())
}
pub fn pump(
    _a: std::os::fd::BorrowedFd,
    _b: std::os::fd::BorrowedFd,
) -> Result<bool, ConsoleError> {
    Ok(false)
}
