//! `linux.netDevices`: host network interfaces moved into the container's
//! network namespace by `create`, optionally renamed, with their permanent
//! global addresses, and set up.
//!
//! Following the spec, `delete` does not move them back: when the
//! namespace goes, the kernel returns physical devices to the host and
//! destroys virtual ones (a veth end, and with it its peer). A `create`
//! that fails does: an error must leave the host as it was, and a
//! namespace joined by path outlives the container, so its devices would
//! stay there for good (`Moved`).

mod netlink;

use netlink::{Addr, Msg, Socket, IFLA_IFNAME, IFLA_NET_NS_FD, RTM_NEWLINK};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;

#[derive(Debug, thiserror::Error)]
pub enum NetDevError {
    /// The entry names an interface the host does not have: the config's
    /// fault, said as a config error.
    #[error("config.json: linux.netDevices.{device}: no such interface on the host: {source}")]
    Missing {
        device: String,
        source: std::io::Error,
    },
    #[error("linux.netDevices{device}: {what}: {source}")]
    Step {
        device: String,
        what: String,
        source: std::io::Error,
    },
}

/// IFNAMSIZ less its NUL.
const MAX_NAME: usize = 15;

fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_NAME {
        Some(format!("{name:?} is not 1 to {MAX_NAME} bytes long"))
    } else if name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
        || name == "."
        || name == ".."
    {
        Some(format!("{name:?} is not a valid interface name"))
    } else {
        None
    }
}

/// Problems found without touching the system, as (JSON path, message).
pub fn validate(spec: &Spec) -> Vec<(String, String)> {
    let Some(devices) = devices(spec) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !crate::namespaces::has(spec, LinuxNamespaceType::Network) {
        let msg = "moving network devices needs a network namespace in linux.namespaces";
        out.push(("linux.netDevices".to_string(), msg.to_string()));
    }
    let mut keys: Vec<&String> = devices.keys().collect();
    keys.sort();
    for host in keys {
        if let Some(msg) = name_problem(host) {
            out.push((format!("linux.netDevices.{host}"), msg));
        }
        if let Some(new) = devices[host].name().as_deref() {
            if let Some(msg) = name_problem(new) {
                out.push((format!("linux.netDevices.{host}.name"), msg));
            }
        }
    }
    out
}

/// `linux.netDevices`, if it names any.
pub(crate) fn devices(spec: &Spec) -> Option<&HashMap<String, oci_spec::runtime::LinuxNetDevice>> {
    let devices = spec.linux().as_ref()?.net_devices().as_ref()?;
    (!devices.is_empty()).then_some(devices)
}

/// The network namespace the container's init lives in: the one it joins
/// by path, else the new one its clone made.
fn target_namespace(spec: &Spec, init: i32) -> std::io::Result<File> {
    let joined = crate::namespaces::list(spec)
        .iter()
        .find(|ns| ns.typ() == LinuxNamespaceType::Network)
        .and_then(|ns| ns.path().clone());
    match joined {
        Some(path) => File::open(path),
        None => File::open(format!("/proc/{init}/ns/net")),
    }
}

/// One device `move_all` moved: how to find it in the container, and
/// what it was on the host.
struct MovedDevice {
    host_name: String,
    /// Its index in the container; where the lookup after the move failed,
    /// that lookup, (index, None) or (0, name), for undo to try again.
    inside: (i32, Option<String>),
    addrs: Vec<Addr>,
    /// Whether it was up on the host (moving takes a device down).
    up: bool,
}

/// The devices a create moved into the container's network namespace,
/// until the create finishes: `undo` moves them back.
pub struct Moved {
    /// The container's namespace (held open, so it outlives a dead init)
    /// and keel's own.
    target: File,
    host: File,
    devices: Vec<MovedDevice>,
}

/// A `map_err` that names the device (`""`: all of them) and the step.
fn error(device: &str, what: &str) -> impl FnOnce(std::io::Error) -> NetDevError {
    let device = match device {
        "" => String::new(),
        name => format!(".{name}"),
    };
    let what = what.to_string();
    move |source| NetDevError::Step {
        device,
        what,
        source,
    }
}

/// Move every configured device into the init's network namespace. On
/// error, those already moved are moved back.
pub fn move_all(spec: &Spec, init: i32) -> Result<Option<Moved>, NetDevError> {
    let Some(devices) = devices(spec) else {
        return Ok(None);
    };
    let mut moved = Moved {
        target: target_namespace(spec, init)
            .map_err(error("", "open the container's network namespace"))?,
        host: File::open("/proc/thread-self/ns/net")
            .map_err(error("", "open keel's network namespace"))?,
        devices: Vec::new(),
    };
    let mut keys: Vec<&String> = devices.keys().collect();
    keys.sort();
    let result = Sockets::open(&moved).and_then(|mut sockets| {
        keys.into_iter().try_for_each(|name| {
            let new_name = devices[name].name().clone().unwrap_or_else(|| name.clone());
            moved.move_in(&mut sockets, name, &new_name)
        })
    });
    match result {
        Ok(()) => Ok(Some(moved)),
        Err(e) => {
            moved.undo();
            Err(e)
        }
    }
}

impl Moved {
    /// Move host device `name` in as `new_name`, with its addresses, and
    /// set it up.
    fn move_in(&mut self, s: &mut Sockets, name: &str, new_name: &str) -> Result<(), NetDevError> {
        let Sockets { host, inside } = s;
        let link = host.link(0, Some(name)).map_err(|source| {
            if source.raw_os_error() == Some(libc::ENODEV) {
                let device = name.to_string();
                NetDevError::Missing { device, source }
            } else {
                error(name, "find the interface on the host")(source)
            }
        })?;
        let index = link.index;
        let addrs = host
            .addresses(index)
            .map_err(error(name, "list its addresses"))?;
        let msg = Msg::link(RTM_NEWLINK, index, 0, 0)
            .attr(
                IFLA_NET_NS_FD,
                &(self.target.as_raw_fd() as u32).to_ne_bytes(),
            )
            .attr(IFLA_IFNAME, &netlink::nul_terminated(new_name));
        host.request(msg).map_err(error(
            name,
            &format!("move it into the container as {new_name:?}"),
        ))?;
        // The kernel keeps the index when it is free there, and a %d
        // template leaves the final name to the kernel.
        let lookup = match new_name.contains('%') {
            true => (index, None),
            false => (0, Some(new_name.to_string())),
        };
        let found = inside.link(lookup.0, lookup.1.as_deref());
        // Recorded also when it is not found, so that undo tries again.
        self.devices.push(MovedDevice {
            host_name: name.to_string(),
            inside: found.as_ref().map_or(lookup, |l| (l.index, None)),
            addrs: addrs.clone(),
            up: link.flags & libc::IFF_UP as u32 != 0,
        });
        let new_index = found
            .map_err(error(name, "find it in the container"))?
            .index;
        for addr in &addrs {
            inside
                .add_address(new_index, addr)
                .map_err(error(name, "restore an address"))?;
        }
        set_up(inside, new_index).map_err(error(name, "set it up"))
    }

    /// Move every device back to the host under its host name, with its
    /// addresses, and up again if it was, for a create that failed. Best
    /// effort: what fails is logged.
    pub fn undo(self) {
        let result = Sockets::open(&self).map(|mut sockets| {
            for d in self.devices.iter().rev() {
                if let Err(e) = self.move_out(&mut sockets, d) {
                    crate::logging::warn(&format!("undo of a failed create: {e}"));
                }
            }
        });
        if let Err(e) = result {
            crate::logging::warn(&format!("undo of a failed create: {e}"));
        }
    }

    fn move_out(&self, s: &mut Sockets, d: &MovedDevice) -> Result<(), NetDevError> {
        let name = d.host_name.as_str();
        let Sockets { host, inside } = s;
        let index = inside
            .link(d.inside.0, d.inside.1.as_deref())
            .map_err(error(name, "find it in the container"))?
            .index;
        let msg = Msg::link(RTM_NEWLINK, index, 0, 0)
            .attr(
                IFLA_NET_NS_FD,
                &(self.host.as_raw_fd() as u32).to_ne_bytes(),
            )
            .attr(IFLA_IFNAME, &netlink::nul_terminated(name));
        inside
            .request(msg)
            .map_err(error(name, "move it back to the host"))?;
        let index = host
            .link(0, Some(name))
            .map_err(error(name, "find it back on the host"))?
            .index;
        for addr in &d.addrs {
            host.add_address(index, addr)
                .map_err(error(name, "restore an address on the host"))?;
        }
        if d.up {
            set_up(host, index).map_err(error(name, "set it up again on the host"))?;
        }
        Ok(())
    }
}

fn set_up(socket: &mut Socket, index: i32) -> std::io::Result<()> {
    let up = libc::IFF_UP as u32;
    socket.request(Msg::link(RTM_NEWLINK, index, up, up))
}

/// A netlink socket in keel's network namespace and one in the container's.
struct Sockets {
    host: Socket,
    inside: Socket,
}

impl Sockets {
    fn open(moved: &Moved) -> Result<Sockets, NetDevError> {
        let inside = socket_in(&moved.target, &moved.host);
        Ok(Sockets {
            host: Socket::open().map_err(error("", "netlink socket"))?,
            inside: inside.map_err(error("", "netlink socket in the container"))?,
        })
    }
}

/// A netlink socket that lives in `ns`: made there, then used from here,
/// back in `own`, keel's namespace.
fn socket_in(ns: &File, own: &File) -> std::io::Result<Socket> {
    use nix::sched::{setns, CloneFlags};
    setns(ns, CloneFlags::CLONE_NEWNET)?;
    let socket = Socket::open();
    // Back to our own namespace whatever happened; failing that, keel
    // would go on in the container's, so it is an error too.
    setns(own, CloneFlags::CLONE_NEWNET)?;
    socket
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_located() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.3.0","linux":{"namespaces":[{"type":"mount"}],
            "netDevices":{"eth0":{"name":"a/b"},"much-too-long-name0":{}}}}"#,
        )
        .unwrap();
        let paths: Vec<String> = validate(&spec).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "linux.netDevices",
                "linux.netDevices.eth0.name",
                "linux.netDevices.much-too-long-name0"
            ]
        );
    }
}
