//! `linux.netDevices` given back by a failed create: each device returns
//! to the host as it was, up or down. (Moving in, renaming and addresses
//! are checked in spec_fields.rs.)

mod common;

use common::veth::{ip, Veth};
use common::Sandbox;
use serde_json::json;

/// Whether link `name` on the host is administratively up.
fn is_up(name: &str) -> bool {
    let line = ip(&["-o", "link", "show", "dev", name]);
    let flags = line.split(['<', '>']).nth(1).unwrap_or_default();
    flags.split(',').any(|f| f == "UP")
}

#[test]
fn a_failed_create_gives_net_devices_back_up_or_down_as_they_were() {
    for up in [true, false] {
        let pair = Veth::new(if up { "u" } else { "d" });
        if up {
            ip(&["link", "set", "dev", &pair.peer, "up"]);
        }
        let mut sb = Sandbox::new("netdev_state");
        // The hook runs on the host: the device must be gone from here by
        // then, or nothing was given back.
        let moved = sb.dir.join("moved");
        let hook = format!(
            "[ -e /sys/class/net/{} ] || echo moved > {}; exit 1",
            pair.peer,
            moved.display()
        );
        sb.bundle
            .set("/linux/netDevices", json!({ &pair.peer: {"name": "eth7"} }))
            .sh_hook("createRuntime", &hook);
        let id = sb.id.clone();
        sb.create_fails_cleanly(&id, &["createRuntime"]);
        assert!(moved.exists(), "{} never left the host", pair.peer);
        assert_eq!(is_up(&pair.peer), up, "{} came back changed", pair.peer);
    }
}
