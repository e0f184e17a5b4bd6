//! Just enough rtnetlink for `linux.netDevices`: look a link up, move it to
//! another network namespace (renaming it on the way), list and add its
//! addresses, and set it up. Messages are built by hand: the few fixed
//! layouts below are all that is needed, and no crate is the standard.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
pub const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const HDR: usize = 16;

/// One address of a link, as the kernel reported it.
#[derive(Debug, Clone)]
pub struct Addr {
    pub family: u8,
    pub prefix: u8,
    pub attrs: Vec<(u16, Vec<u8>)>,
}

/// What a lookup tells of a link: its index and its IFF_* flags.
pub struct Link {
    pub index: i32,
    pub flags: u32,
}

pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// A request: header, fixed part, then attributes.
pub struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut buf = vec![0u8; HDR];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(fixed);
        buf.resize(align(buf.len()), 0);
        Msg { buf }
    }

    /// An ifinfomsg request about link `index` with `flags`/`change`.
    /// Acked also when it is a lookup (which the kernel answers with the
    /// link first), so that every answer ends the same way for `replies`.
    pub fn link(kind: u16, index: i32, flags: u32, change: u32) -> Msg {
        let mut fixed = [0u8; 16];
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        fixed[8..12].copy_from_slice(&flags.to_ne_bytes());
        fixed[12..16].copy_from_slice(&change.to_ne_bytes());
        Msg::new(kind, NLM_F_ACK, &fixed)
    }

    pub fn attr(mut self, kind: u16, data: &[u8]) -> Msg {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }
}

/// The attributes after a fixed part of `skip` bytes.
fn attrs(mut body: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    while body.len() >= 4 {
        let len = u16::from_ne_bytes([body[0], body[1]]) as usize;
        let kind = u16::from_ne_bytes([body[2], body[3]]);
        if len < 4 || len > body.len() {
            break;
        }
        out.push((kind, body[4..len].to_vec()));
        body = &body[align(len).min(body.len())..];
    }
    out
}

impl Socket {
    /// A route netlink socket in the caller's current network namespace.
    pub fn open() -> io::Result<Socket> {
        // SAFETY: plain socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd, seq: 0 })
    }

    fn send(&mut self, mut msg: Msg) -> io::Result<u32> {
        self.seq += 1;
        let len = msg.buf.len() as u32;
        msg.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        msg.buf[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: the buffer is valid for its length.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                msg.buf.as_ptr().cast(),
                msg.buf.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(self.seq)
    }

    /// Replies to `seq` as (type, body) until an ack, an error or DONE.
    fn replies(&self, seq: u32) -> io::Result<Vec<(u16, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let fd: RawFd = self.fd.as_raw_fd();
            // SAFETY: the buffer is valid for its length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut data = &buf[..n as usize];
            while data.len() >= HDR {
                let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes([data[4], data[5]]);
                let got = u32::from_ne_bytes(data[8..12].try_into().unwrap());
                if len < HDR || len > data.len() {
                    return Err(io::Error::other("truncated netlink reply"));
                }
                let body = &data[HDR..len];
                data = &data[align(len).min(data.len())..];
                if got != seq {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(body[0..4].try_into().unwrap());
                        if code == 0 {
                            return Ok(out);
                        }
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    _ => out.push((kind, body.to_vec())),
                }
            }
        }
    }

    /// Send a request that answers with an ack.
    pub fn request(&mut self, msg: Msg) -> io::Result<()> {
        let seq = self.send(msg)?;
        self.replies(seq).map(|_| ())
    }

    /// A link, by index or (index 0) by name.
    pub fn link(&mut self, index: i32, name: Option<&str>) -> io::Result<Link> {
        let mut msg = Msg::link(RTM_GETLINK, index, 0, 0);
        if let Some(name) = name {
            msg = msg.attr(IFLA_IFNAME, &nul_terminated(name));
        }
        let seq = self.send(msg)?;
        let (_, body) = self
            .replies(seq)?
            .into_iter()
            .find(|(kind, _)| *kind == RTM_NEWLINK)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        if body.len() < 16 {
            return Err(io::Error::other("truncated netlink link reply"));
        }
        Ok(Link {
            index: i32::from_ne_bytes(body[4..8].try_into().unwrap()),
            flags: u32::from_ne_bytes(body[8..12].try_into().unwrap()),
        })
    }

    /// The permanent, global addresses of link `index`: the ones the spec
    /// says survive the move.
    pub fn addresses(&mut self, index: i32) -> io::Result<Vec<Addr>> {
        let seq = self.send(Msg::new(RTM_GETADDR, NLM_F_DUMP, &[0u8; 8]))?;
        let mut out = Vec::new();
        for (kind, body) in self.replies(seq)? {
            if kind != RTM_NEWADDR || body.len() < 8 {
                continue;
            }
            let (family, prefix, flags, scope) = (body[0], body[1], body[2], body[3]);
            let owner = i32::from_ne_bytes(body[4..8].try_into().unwrap());
            let list = attrs(&body[8..]);
            let extended = list
                .iter()
                .find(|(k, v)| *k == IFA_FLAGS && v.len() == 4)
                .map(|(_, v)| u32::from_ne_bytes(v[..4].try_into().unwrap()));
            let permanent = extended.unwrap_or(u32::from(flags)) & IFA_F_PERMANENT != 0;
            if owner == index && scope == RT_SCOPE_UNIVERSE && permanent {
                let attrs = list
                    .into_iter()
                    .filter(|(k, _)| *k == IFA_ADDRESS || *k == IFA_LOCAL)
                    .collect();
                out.push(Addr {
                    family,
                    prefix,
                    attrs,
                });
            }
        }
        Ok(out)
    }

    pub fn add_address(&mut self, index: i32, addr: &Addr) -> io::Result<()> {
        let mut fixed = [0u8; 8];
        fixed[0] = addr.family;
        fixed[1] = addr.prefix;
        fixed[2] = IFA_F_PERMANENT as u8;
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        let mut msg = Msg::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &fixed);
        for (kind, data) in &addr.attrs {
            msg = msg.attr(*kind, data);
        }
        self.request(msg)
    }
}

pub fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}
