//! The `linux.seccomp` part of `keel features`: every action, operator,
//! architecture and flag in the lists of `features` is claimed, and a flag
//! is "supported" when this kernel's seccomp(2) knows it.
//!
//! Whether keel compiles a profile using each listed item does not depend
//! on the host, so the unit tests below check it once, through the same
//! compiler `create` uses, instead of every `keel features` call: compiling
//! some forty profiles on each call cost that call about a fifth of its
//! peak resident memory.

use super::features::{ACTIONS, ARCHS, FLAGS, OPERATORS};
use serde_json::{json, Value};

pub fn seccomp() -> Value {
    let names = |list: &[String]| Value::from(list.to_vec());
    let known: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
    let supported: Vec<String> = known
        .iter()
        .filter(|f| kernel_knows(flag_bit(f)))
        .cloned()
        .collect();
    json!({
        "enabled": true,
        "actions": names(&ACTIONS.map(|a| a.to_string())),
        "operators": names(&OPERATORS.map(|o| o.to_string())),
        "archs": names(&ARCHS.map(|a| a.to_string())),
        "knownFlags": names(&known),
        "supportedFlags": names(&supported),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Action};

    fn compiles(doc: Value) -> bool {
        let profile: LinuxSeccomp = serde_json::from_value(doc).expect("a profile");
        crate::seccomp::compile(&profile).is_ok()
    }

    fn with_rule(action: &str, args: Value) -> Value {
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": action, "args": args}]})
    }

    #[test]
    fn every_claimed_action_compiles() {
        for action in ACTIONS {
            let mut doc = with_rule(&action.to_string(), json!([]));
            if action == Action::ScmpActNotify {
                doc["listenerPath"] = json!("/run/keel-features.sock");
            }
            assert!(compiles(doc), "{action}");
        }
    }

    #[test]
    fn every_claimed_operator_compiles() {
        for op in OPERATORS {
            let arg = json!({"index": 0, "value": 1, "valueTwo": 1, "op": op.to_string()});
            assert!(compiles(with_rule("SCMP_ACT_ERRNO", json!([arg]))), "{op}");
        }
    }

    #[test]
    fn every_claimed_architecture_and_flag_compiles() {
        for arch in ARCHS {
            let doc =
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch.to_string()]});
            assert!(compiles(doc), "{arch}");
        }
        for flag in FLAGS {
            let doc = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag.to_string()]});
            assert!(compiles(doc), "{flag}");
            assert_ne!(flag_bit(&flag.to_string()), libc::c_ulong::MAX, "{flag}");
        }
    }

    #[test]
    fn the_check_refuses_what_the_compiler_refuses() {
        // The notify action without its listener is refused: the helper
        // above is not vacuous.
        assert!(!compiles(with_rule("SCMP_ACT_NOTIFY", json!([]))));
    }
}
