//! A veth pair for one test, and `ip` to drive it: both ends are gone when
//! it drops, wherever the peer was moved.

use std::process::Command;

/// `ip ARGS`, which must succeed; its stdout.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Veth {
    pub host: String,
    pub peer: String,
}

impl Veth {
    /// `kh<tag><pid>` on the host, peered with `kc<tag><pid>`.
    pub fn new(tag: &str) -> Veth {
        let n = std::process::id() % 100_000;
        let (host, peer) = (format!("kh{tag}{n}"), format!("kc{tag}{n}"));
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]);
        Veth { host, peer }
    }

    /// Whether link `name` exists in our network namespace.
    pub fn exists(name: &str) -> bool {
        std::path::Path::new("/sys/class/net").join(name).exists()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting either end deletes both; the peer may be elsewhere.
        for name in [&self.host, &self.peer] {
            if Veth::exists(name) {
                let _ = Command::new("ip").args(["link", "del", name]).status();
            }
        }
    }
}
