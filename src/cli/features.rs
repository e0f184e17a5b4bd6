//! `keel features`: runtime-spec's Features structure (features.md).
//!
//! Nothing here is a second list of what keel supports that could drift
//! from behaviour. Each claim is read from the table the code itself uses
//! (mount options, hook kinds), or found by putting a config that uses the
//! feature through the same validation `create` runs (a namespace or a
//! cgroup feature is claimed exactly when `create` would accept a config
//! asking for it on this host), or, where the answer cannot depend on the
//! host (the seccomp actions, operators, architectures and flags), listed
//! here and checked by unit tests against the compiler `create` uses. AppArmor and SELinux are
//! the exception the spec makes: their `enabled` says whether keel
//! implements the LSM, "irrelevant to the availability" of it on the host
//! (features-linux.md); keel applies both (src/lsm/) wherever the host has
//! them, so both are claimed, and tests/features.rs checks that a claimed
//! LSM is applied on a host that has it and refused with that reason on
//! one that has not.

use crate::hooks::HookKind;
use oci_spec::runtime::{
    Arch, LinuxNamespaceType as Ns, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as SFlag,
    LinuxSeccompOperator as Op,
};
use serde_json::{json, Value};

pub fn run() -> anyhow::Result<()> {
    let doc = document();
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The whole Features structure.
pub fn document() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": HOOKS.iter().map(|h| h.name()).collect::<Vec<_>>(),
        "mountOptions": crate::rootfs::mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": capabilities(),
            "cgroup": cgroup(),
            "seccomp": super::features_seccomp::seccomp(),
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": accepts(&["linux", "intelRdt"], json!({"closID": "keel"}))},
            "memoryPolicy": memory_policy(),
            "mountExtensions": {"idmap": {"enabled": idmap_mounts()}},
            "netDevices": {"enabled": accepts(&["linux", "netDevices"], json!({"keel0": {}}))},
        },
        "annotations": {
            "io.github.keel.version": env!("CARGO_PKG_VERSION"),
            "io.github.keel.commit": env!("KEEL_COMMIT"),
        },
    })
}

/// The newest spec whose fields keel reads: memoryPolicy, netDevices and
/// the 1.3 intelRdt fields come from runtime-spec 1.3.0 (oci-spec's own
/// VERSION constant still says 1.1.0 although it models them).
const OCI_VERSION_MAX: &str = "1.3.0";

/// Every hook list config.json may have; `index` fails to compile when
/// HookKind grows, so this list cannot silently fall behind it.
const HOOKS: [HookKind; 6] = [
    HookKind::Prestart,
    HookKind::CreateRuntime,
    HookKind::CreateContainer,
    HookKind::StartContainer,
    HookKind::Poststart,
    HookKind::Poststop,
];

#[cfg(test)]
fn hook_index(h: HookKind) -> usize {
    match h {
        HookKind::Prestart => 0,
        HookKind::CreateRuntime => 1,
        HookKind::CreateContainer => 2,
        HookKind::StartContainer => 3,
        HookKind::Poststart => 4,
        HookKind::Poststop => 5,
    }
}

/// Every namespace type the spec names.
pub const NAMESPACES: [Ns; 8] = [
    Ns::Cgroup,
    Ns::Ipc,
    Ns::Mount,
    Ns::Network,
    Ns::Pid,
    Ns::Time,
    Ns::User,
    Ns::Uts,
];

#[cfg(test)]
fn ns_index(n: Ns) -> usize {
    match n {
        Ns::Cgroup => 0,
        Ns::Ipc => 1,
        Ns::Mount => 2,
        Ns::Network => 3,
        Ns::Pid => 4,
        Ns::Time => 5,
        Ns::User => 6,
        Ns::Uts => 7,
    }
}

/// The starter config of `keel spec`, which validation accepts as it is.
fn base() -> Value {
    super::spec::default_spec(true)
}

/// The problems validation finds in `doc`; a document that does not even
/// parse counts as one problem.
fn problems(doc: &Value) -> Vec<String> {
    match crate::config::parse(&doc.to_string()) {
        Ok(spec) => crate::config::validate(&spec)
            .into_iter()
            .map(|p| p.path)
            .collect(),
        Err(p) => vec![p.path],
    }
}

/// Whether the starter config with `value` at `path` passes validation
/// without a problem about that field.
fn accepts(path: &[&str], value: Value) -> bool {
    let mut doc = base();
    let mut node = &mut doc;
    for key in &path[..path.len() - 1] {
        node = &mut node[*key];
    }
    node[path[path.len() - 1]] = value;
    let field = path.join(".");
    !problems(&doc).iter().any(|p| p.starts_with(&field))
}

/// Namespaces `create` accepts a config to make.
fn namespaces() -> Vec<&'static str> {
    NAMESPACES
        .iter()
        .filter(|ns| {
            let mut doc = base();
            let list = doc["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces");
            let name = crate::namespaces::name(**ns);
            list.retain(|n| n["type"] != name);
            list.push(json!({"type": name}));
            if **ns == Ns::User {
                doc["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
                doc["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            }
            !problems(&doc)
                .iter()
                .any(|p| p.starts_with("linux.namespaces"))
        })
        .map(|ns| crate::namespaces::name(*ns))
        .collect()
}

/// Capabilities keel can put in a set: the ones its capability library
/// knows whose spec name config.json can carry.
fn capabilities() -> Vec<String> {
    let mut names: Vec<String> = caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .filter(|name| {
            let doc = json!({"bounding": [name]});
            serde_json::from_value::<oci_spec::runtime::LinuxCapabilities>(doc).is_ok()
        })
        .collect();
    names.sort();
    names
}

/// keel drives pure v1, hybrid and pure v2 hosts (src/cgroups; the v2
/// side is tested in the qemu guest of hack/vm).
const CGROUP_V1: bool = true;
const CGROUP_V2: bool = true;

fn cgroup() -> Value {
    let systemd_flag = super::Cli {
        systemd_cgroup: true,
        ..<super::Cli as clap::Parser>::parse_from(["keel"])
    };
    let systemd = super::check_global_flags(&systemd_flag).is_ok();
    let rdma = accepts(
        &["linux", "resources"],
        json!({"rdma": {"mlx5_0": {"hcaHandles": 1}}}),
    );
    json!({
        "v1": CGROUP_V1,
        "v2": CGROUP_V2,
        "systemd": systemd,
        "systemdUser": systemd,
        "rdma": rdma,
    })
}

/// The modes and flags this kernel takes (each flag tried with MPOL_BIND,
/// which takes all three).
fn memory_policy() -> Value {
    use crate::process::linux_attrs::{kernel_takes, FLAGS, MODES};
    use oci_spec::runtime::MemoryPolicyModeType as Mode;
    let modes: Vec<String> = MODES
        .iter()
        .filter(|(m, _)| kernel_takes(*m, 0))
        .map(|(m, _)| m.to_string())
        .collect();
    let flags: Vec<String> = FLAGS
        .iter()
        .filter(|(_, v)| kernel_takes(Mode::MpolBind, *v))
        .map(|(f, _)| f.to_string())
        .collect();
    json!({"modes": modes, "flags": flags})
}

fn idmap_mounts() -> bool {
    accepts(
        &["mounts"],
        json!([{"destination": "/m", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"],
                "uidMappings": [{"containerID": 0, "hostID": 0, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 0, "size": 1}]}]),
    )
}

/// Every seccomp action, operator, architecture and flag the spec names,
/// for `features_seccomp` to try.
pub const ACTIONS: [Action; 9] = [
    Action::ScmpActKill,
    Action::ScmpActKillThread,
    Action::ScmpActKillProcess,
    Action::ScmpActTrap,
    Action::ScmpActErrno,
    Action::ScmpActNotify,
    Action::ScmpActTrace,
    Action::ScmpActLog,
    Action::ScmpActAllow,
];

pub const OPERATORS: [Op; 7] = [
    Op::ScmpCmpNe,
    Op::ScmpCmpLt,
    Op::ScmpCmpLe,
    Op::ScmpCmpEq,
    Op::ScmpCmpGe,
    Op::ScmpCmpGt,
    Op::ScmpCmpMaskedEq,
];

pub const FLAGS: [SFlag; 4] = [
    SFlag::SeccompFilterFlagLog,
    SFlag::SeccompFilterFlagTsync,
    SFlag::SeccompFilterFlagSpecAllow,
    SFlag::SeccompFilterFlagWaitKillableRecv,
];

pub const ARCHS: [Arch; 24] = [
    Arch::ScmpArchNative,
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_cover_every_variant() {
        for (i, h) in HOOKS.iter().enumerate() {
            assert_eq!(hook_index(*h), i);
        }
        for (i, n) in NAMESPACES.iter().enumerate() {
            assert_eq!(ns_index(*n), i);
        }
        // Action, Op, SFlag and Arch: serde names are unique per variant,
        // so distinct names mean distinct variants.
        let distinct = |names: Vec<String>| {
            let n = names.len();
            let mut sorted = names;
            sorted.sort();
            sorted.dedup();
            sorted.len() == n
        };
        assert!(distinct(ACTIONS.iter().map(|a| a.to_string()).collect()));
        assert!(distinct(OPERATORS.iter().map(|a| a.to_string()).collect()));
        assert!(distinct(FLAGS.iter().map(|a| a.to_string()).collect()));
        assert!(distinct(ARCHS.iter().map(|a| a.to_string()).collect()));
    }

    #[test]
    fn document_claims_what_validation_accepts() {
        let doc = document();
        let ns: Vec<&str> = doc["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for expected in ["cgroup", "ipc", "mount", "network", "pid", "uts"] {
            assert!(ns.contains(&expected), "{ns:?}");
        }
        assert!(doc["mountOptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "rro"));
        let options = doc["mountOptions"].as_array().unwrap();
        assert!(options.iter().any(|o| o == "idmap") && options.iter().any(|o| o == "ridmap"));
        assert_eq!(doc["linux"]["mountExtensions"]["idmap"]["enabled"], true);
        assert_eq!(doc["linux"]["apparmor"]["enabled"], true);
        assert_eq!(doc["linux"]["selinux"]["enabled"], true);
        assert_eq!(doc["linux"]["cgroup"]["systemd"], false);
        assert!(doc["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
    }
}
