//! `linux.netDevices`: a host device moves into the container renamed,
//! with its address and up, goes with the container's namespace, and is
//! given back as it was when create fails; a missing one fails create.

mod common;

use common::veth::{ip, Veth};
use common::{is_keel, Sandbox};
use serde_json::json;

/// Whether link `name` on the host is administratively up.
fn is_up(name: &str) -> bool {
    let line = ip(&["-o", "link", "show", "dev", name]);
    let flags = line.split(['<', '>']).nth(1).unwrap_or_default();
    flags.split(',').any(|f| f == "UP")
}

/// A veth pair whose peer has an address, for a container to take.
fn addressed_veth(tag: &str) -> Veth {
    let veth = Veth::new(tag);
    ip(&["addr", "add", "10.213.7.2/24", "dev", &veth.peer]);
    veth
}

/// A netlink socket subscribed to link changes, to wait for a link to
/// go without polling on a timer (namespace teardown is asynchronous).
struct LinkEvents(std::os::fd::OwnedFd);

impl LinkEvents {
    fn new() -> LinkEvents {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket(2) and bind(2) on a zeroed sockaddr_nl.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            assert!(fd >= 0, "netlink socket");
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as u16;
            addr.nl_groups = 1; // RTMGRP_LINK
            let len = std::mem::size_of::<libc::sockaddr_nl>() as u32;
            assert_eq!(
                libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
                0
            );
            LinkEvents(std::os::fd::OwnedFd::from_raw_fd(fd))
        }
    }

    /// Wait until `/sys/class/net/NAME` is gone, reading link events.
    fn wait_gone(&self, name: &str) {
        use std::os::fd::AsRawFd;
        let deadline = std::time::Instant::now() + common::TIMEOUT;
        while Veth::exists(name) {
            assert!(
                common::sys::poll_readable(self.0.as_raw_fd(), deadline),
                "{name} still exists after {:?}",
                common::TIMEOUT
            );
            let mut buf = [0u8; 8192];
            // SAFETY: the buffer is valid for its length.
            unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
        }
    }
}

#[test]
fn net_device_moves_in_renamed_with_its_address_and_up() {
    let veth = addressed_veth("m");
    let mut sb = Sandbox::new("netdev");
    sb.bundle
        .set("/linux/netDevices", json!({ &veth.peer: {"name": "eth7"} }))
        .sh("ip -o addr show dev eth7; ip -o link show dev eth7");
    let id = sb.id.clone();
    let created = sb.create(&id);
    assert!(!Veth::exists(&veth.peer), "{} still on the host", veth.peer);
    sb.rt.ok(&["start", &id]);
    sb.reap_init(&id);
    let out = created.stdout_now();
    assert!(
        out.contains("eth7") && out.contains("inet 10.213.7.2/24"),
        "{out}"
    );
    let link = out
        .lines()
        .find(|l| l.contains("link/ether"))
        .unwrap_or_default();
    assert!(
        link.contains(",UP") || link.contains("<UP"),
        "not up: {out}"
    );
    let events = LinkEvents::new();
    sb.rt.ok(&["delete", &id]);
    // With the namespace, the kernel destroys the moved veth end and its
    // peer (the spec forbids moving devices back out).
    events.wait_gone(&veth.host);
}

/// A network namespace made for one test with `ip netns add`, deleted
/// when it drops.
struct NetNs(String);

impl NetNs {
    fn new(tag: &str) -> NetNs {
        let name = format!("kt{tag}{}", std::process::id());
        ip(&["netns", "add", &name]);
        NetNs(name)
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

/// A create that fails after moving a device (here a createRuntime hook,
/// which runs on the host and records whether the device had left it)
/// gives it back to the host as it was: name, address, up or down. The
/// namespace may be one joined by path, which outlives the container, or
/// the init's own, whose end would destroy a virtual device.
#[test]
fn a_failed_create_gives_net_devices_back_as_they_were() {
    for (joined, up) in [(false, true), (false, false), (true, true), (true, false)] {
        let tag = format!("{}{}", if joined { "j" } else { "n" }, u8::from(up));
        let veth = addressed_veth(&tag);
        if up {
            ip(&["link", "set", "dev", &veth.peer, "up"]);
        }
        let netns = joined.then(|| NetNs::new(&tag));
        let mut sb = Sandbox::new("netdev_undo");
        if let Some(ns) = &netns {
            sb.bundle.remove_namespace("network").push(
                "/linux/namespaces",
                json!({"type": "network", "path": ns.path()}),
            );
        }
        let moved = sb.dir.join("moved");
        let hook = format!(
            "[ -e /sys/class/net/{} ] || echo moved > {}; exit 1",
            veth.peer,
            moved.display()
        );
        sb.bundle
            .set("/linux/netDevices", json!({ &veth.peer: {"name": "eth7"} }))
            .sh_hook("createRuntime", &hook);
        let id = sb.id.clone();
        sb.create_fails_cleanly(&id, &["createRuntime"]);
        let case = format!("joined {joined}, up {up}: {}", veth.peer);
        assert!(moved.exists(), "{case} never left the host");
        assert!(Veth::exists(&veth.peer), "{case} not back on the host");
        let addrs = ip(&["-o", "addr", "show", "dev", &veth.peer]);
        assert!(addrs.contains("inet 10.213.7.2/24"), "{case}: {addrs}");
        assert_eq!(is_up(&veth.peer), up, "{case} came back changed");
    }
}

#[test]
fn a_missing_net_device_fails_create_naming_it() {
    let mut sb = Sandbox::new("netdev_missing");
    sb.bundle
        .set("/linux/netDevices", json!({"kt-nosuch0": {}}));
    let id = sb.id.clone();
    let field = "linux.netDevices.kt-nosuch0";
    let out = sb.create_fails_with_config_error(&id, field, &["no such interface on the host"]);
    if is_keel() {
        let want = format!(
            "config.json: {field}: no such interface on the host: No such device (os error 19)"
        );
        assert_eq!(out.stderr.trim_end(), want, "{out}");
    }
}
