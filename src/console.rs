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
