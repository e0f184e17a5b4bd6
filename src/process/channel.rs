//! Typed one-way channels between keel and the container init.
//!
//! Each channel is a SOCK_SEQPACKET socketpair: one datagram is one
//! message, and the peer's death reads as end-of-file, so a crash on either
//! side is noticed instead of waited on.

use serde::{de::DeserializeOwned, Serialize};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};

/// Large enough for any message we send (errors are one line).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("channel: {0}")]
    Sys(#[from] nix::Error),
    #[error("the other side exited before answering")]
    Closed,
    #[error("channel: bad message: {0}")]
    Decode(#[from] serde_json::Error),
}

pub struct Sender<T> {
    fd: OwnedFd,
    _t: PhantomData<T>,
}

pub struct Receiver<T> {
    fd: OwnedFd,
    _t: PhantomData<T>,
}

/// A new channel. Both ends are close-on-exec, so neither reaches the
/// container process or a hook.
pub fn channel<T>() -> Result<(Sender<T>, Receiver<T>), ChannelError> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (tx, rx) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((
        Sender {
            fd: tx,
            _t: PhantomData,
        },
        Receiver {
            fd: rx,
            _t: PhantomData,
        },
    ))
}

impl<T: Serialize> Sender<T> {
    pub fn send(&self, msg: &T) -> Result<(), ChannelError> {
        let data = serde_json::to_vec(msg)?;
        loop {
            match nix::sys::socket::send(
                self.fd.as_raw_fd(),
                &data,
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            ) {
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::EPIPE) | Err(nix::Error::ECONNRESET) => {
                    return Err(ChannelError::Closed)
                }
                other => return other.map(|_| ()).map_err(Into::into),
            }
        }
    }
}

impl<T> Sender<T> {
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl<T> Receiver<T> {
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl<T: DeserializeOwned> Receiver<T> {
    pub fn recv(&self) -> Result<T, ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let n = loop {
            match nix::unistd::read(&self.fd, &mut buf) {
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::ECONNRESET) => return Err(ChannelError::Closed),
                other => break other?,
            }
        };
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        Ok(serde_json::from_slice(&buf[..n])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_close_is_seen() {
        let (tx, rx) = channel::<Vec<String>>().unwrap();
        tx.send(&vec!["a".into(), "b".into()]).unwrap();
        assert_eq!(rx.recv().unwrap(), vec!["a".to_string(), "b".to_string()]);
        drop(tx);
        assert!(matches!(rx.recv(), Err(ChannelError::Closed)));
    }
}
