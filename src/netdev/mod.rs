//! `linux.netDevices`: host network interfaces moved into the container's
//! network namespace by `create`, optionally renamed, with their permanent
//! global addresses, and set up.
//!
//! Following the spec, keel does not move them back: when the namespace
//! goes (`delete`), the kernel returns physical devices to the host and
//! destroys virtual ones (a veth end, and with it its peer).

mod netlink;

use netlink::{Msg, Socket, IFLA_IFNAME, IFLA_NET_NS_FD, RTM_NEWLINK};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;

#[derive(Debug, thiserror::Error)]
#[error("linux.netDevices{device}: {what}: {source}")]
pub struct NetDevError {
    device: String,
    what: String,
    source: std::io::Error,
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

fn devices(spec: &Spec) -> Option<&HashMap<String, oci_spec::runtime::LinuxNetDevice>> {
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

/// Move every configured device into the init's network namespace.
pub fn move_all(spec: &Spec, init: i32) -> Result<(), NetDevError> {
    let Some(devices) = devices(spec) else {
        return Ok(());
    };
    let err = |device: &str, what: &str| {
        let device = match device {
            "" => String::new(),
            name => format!(".{name}"),
        };
        let what = what.to_string();
        move |source| NetDevError {
            device,
            what,
            source,
        }
    };
    let target =
        target_namespace(spec, init).map_err(err("", "open the container's network namespace"))?;
    let mut host = Socket::open().map_err(err("", "netlink socket"))?;
    let mut inside = socket_in(&target).map_err(err("", "netlink socket in the container"))?;
    let mut keys: Vec<&String> = devices.keys().collect();
    keys.sort();
    for name in keys {
        let new_name = devices[name].name().clone().unwrap_or_else(|| name.clone());
        let (index, _) = host
            .link(0, Some(name))
            .map_err(err(name, "find the interface on the host"))?;
        let addrs = host
            .addresses(index)
            .map_err(err(name, "list its addresses"))?;
        let msg = Msg::link(RTM_NEWLINK, index, 0, 0)
            .attr(IFLA_NET_NS_FD, &(target.as_raw_fd() as u32).to_ne_bytes())
            .attr(IFLA_IFNAME, &netlink::nul_terminated(&new_name));
        host.request(msg).map_err(err(
            name,
            &format!("move it into the container as {new_name:?}"),
        ))?;
        // The kernel keeps the index when it is free there, and a %d
        // template leaves the final name to the kernel.
        let lookup = if new_name.contains('%') {
            None
        } else {
            Some(new_name.as_str())
        };
        let (new_index, _) = inside
            .link(if lookup.is_some() { 0 } else { index }, lookup)
            .map_err(err(name, "find it in the container"))?;
        for addr in &addrs {
            inside
                .add_address(new_index, addr)
                .map_err(err(name, "restore an address"))?;
        }
        let up = Msg::link(
            RTM_NEWLINK,
            new_index,
            libc::IFF_UP as u32,
            libc::IFF_UP as u32,
        );
        inside.request(up).map_err(err(name, "set it up"))?;
    }
    Ok(())
}

/// A netlink socket that lives in `ns`: made there, then used from here.
fn socket_in(ns: &File) -> std::io::Result<Socket> {
    use nix::sched::{setns, CloneFlags};
    let own = File::open("/proc/thread-self/ns/net")?;
    setns(ns, CloneFlags::CLONE_NEWNET)?;
    let socket = Socket::open();
    // Back to our own namespace whatever happened; failing that, keel
    // would go on in the container's, so it is an error too.
    setns(&own, CloneFlags::CLONE_NEWNET)?;
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
