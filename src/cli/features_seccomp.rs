//! The `linux.seccomp` part of `keel features`: each action, operator,
//! architecture and flag is claimed when a profile using it compiles, and
//! a flag is "supported" when this kernel's seccomp(2) knows it.

use super::features::{ACTIONS, ARCHS, FLAGS, OPERATORS};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Action};
use serde_json::{json, Value};

pub fn seccomp() -> Value {
    let names = |list: Vec<String>| Value::from(list);
    let actions = ACTIONS
        .iter()
        .filter(|a| compiles(&profile_with_action(**a)))
        .map(|a| a.to_string())
        .collect();
    let operators = OPERATORS
        .iter()
        .filter(|op| {
            let arg = json!({"index": 0, "value": 1, "valueTwo": 1, "op": op.to_string()});
            compiles(&json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [arg]}]}))
        })
        .map(|op| op.to_string())
        .collect();
    let archs = ARCHS
        .iter()
        .filter(|a| {
            compiles(&json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [a.to_string()]}))
        })
        .map(|a| a.to_string())
        .collect();
    let known: Vec<String> = FLAGS
        .iter()
        .filter(|f| compiles(&json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [f.to_string()]})))
        .map(|f| f.to_string())
        .collect();
    let supported = known
        .iter()
        .filter(|f| kernel_knows(flag_bit(f)))
        .cloned()
        .collect();
    json!({
        "enabled": true,
        "actions": names(actions),
        "operators": names(operators),
        "archs": names(archs),
        "knownFlags": names(known),
        "supportedFlags": names(supported),
    })
}

fn profile_with_action(action: Action) -> Value {
    let mut doc = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": action.to_string()}]});
    if action == Action::ScmpActNotify {
        doc["listenerPath"] = json!("/run/keel-features.sock");
    }
    doc
}

fn compiles(doc: &Value) -> bool {
    serde_json::from_value::<LinuxSeccomp>(doc.clone())
        .ok()
        .is_some_and(|p| crate::seccomp::compile(&p).is_ok())
}

fn flag_bit(name: &str) -> libc::c_ulong {
    match name {
        "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
        "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        // Only valid together with a listener.
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        }
        _ => libc::c_ulong::MAX,
    }
}

/// Whether seccomp(2) accepts `flags`: with a null program a known flag
/// fails on the pointer (EFAULT), an unknown one on the flags (EINVAL).
/// Nothing is loaded either way.
fn kernel_knows(flags: libc::c_ulong) -> bool {
    // SAFETY: a null program is never dereferenced into our memory; the
    // kernel reports EFAULT for it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    rc < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}
