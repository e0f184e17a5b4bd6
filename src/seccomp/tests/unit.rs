//! Validation, name resolution, actions and rule precedence.

use super::*;
use crate::seccomp::arch::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::seccomp::{compile, validate};
use serde_json::json;

const X86_64: u32 = AUDIT_ARCH_X86_64;

fn nr(name: &str) -> u32 {
    crate::seccomp::arch::Abi::X86_64.number(name).unwrap()
}

#[test]
fn every_problem_is_reported_at_its_json_path() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": 5,
        "listenerMetadata": "x",
        "syscalls": [
            {"names": ["getcwd", "foo"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000},
            {"names": [], "action": "SCMP_ACT_KILL"},
            {"names": ["write"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["open"], "action": "SCMP_ACT_LOG", "errnoRet": 1,
             "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    let got = validate(&p);
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "linux.seccomp.defaultErrnoRet",
            "linux.seccomp.listenerMetadata",
            "linux.seccomp.syscalls[0].errnoRet",
            "linux.seccomp.syscalls[0].names[1]",
            "linux.seccomp.syscalls[1].names",
            "linux.seccomp.syscalls[2].action",
            "linux.seccomp.syscalls[2].names[0]",
            "linux.seccomp.syscalls[3].errnoRet",
            "linux.seccomp.syscalls[3].args[0].index",
        ]
    );
    assert_eq!(
        got[0].1,
        "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not with SCMP_ACT_ALLOW"
    );
    assert!(got[2].1.contains("70000 does not fit"), "{}", got[2].1);
    assert!(got[5].1.contains("needs linux.seccomp.listenerPath"));
    assert!(got[6].1.contains("\"write\""));
    assert_eq!(
        got[8].1,
        "6 is out of range: syscall arguments are numbered 0 to 5"
    );
}

#[test]
fn compile_refuses_with_the_path_in_one_line() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getcwd", "foo"], "action": "SCMP_ACT_ALLOW"}
        ]
    }));
    let err = compile(&p).unwrap_err().to_string();
    assert_eq!(
        err,
        "config.json: linux.seccomp.syscalls[1].names[1]: unknown syscall \"foo\": \
         not a system call on x86_64 nor on any other architecture libseccomp knows"
    );
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"
    }));
    let err = compile(&p).unwrap_err().to_string();
    assert!(
        err.starts_with("config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot"),
        "{err}"
    );
}

#[test]
fn unknown_action_op_and_arch_fail_when_config_json_is_parsed() {
    let config = |seccomp: serde_json::Value| {
        json!({"ociVersion": "1.0.2", "linux": {"seccomp": seccomp}}).to_string()
    };
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_NOPE"}),
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
            "linux.seccomp.architectures[0]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ODD"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_MAYBE"}]}),
            "linux.seccomp.syscalls[0].action",
        ),
    ];
    for (seccomp, path) in cases {
        let problem = crate::config::parse(&config(seccomp)).unwrap_err();
        assert_eq!(problem.path, path, "{problem}");
    }
}

#[test]
fn names_missing_on_one_architecture_are_skipped_there() {
    // _llseek exists only on x86 here, recv only on architectures keel has
    // no numbers for, arch_prctl on x86_64 and x86.
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["_llseek", "recv", "arch_prctl"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert!(validate(&p).is_empty());
    let f = compile(&p).unwrap();
    let eperm = errno(libc::EPERM);
    assert_eq!(
        run(&f, AUDIT_ARCH_I386, 140, [0; 6]),
        eperm,
        "_llseek on x86"
    );
    assert_eq!(
        run(&f, AUDIT_ARCH_I386, 384, [0; 6]),
        eperm,
        "arch_prctl on x86"
    );
    assert_eq!(run(&f, X86_64, nr("arch_prctl"), [0; 6]), eperm);
    // 140 on x86_64 is getpriority: untouched.
    assert_eq!(run(&f, X86_64, 140, [0; 6]), ALLOW);
}

#[test]
fn x86_socket_and_ipc_calls_are_also_filtered_through_their_multiplexers() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["semop", "recv"], "action": "SCMP_ACT_ERRNO", "errnoRet": 6},
            {"names": ["connect"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
             "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    let f = compile(&p).unwrap();
    let call = |nr: u32, arg0: u64| run(&f, AUDIT_ARCH_I386, nr, [arg0, 0, 0, 0, 0, 0]);
    let (socketcall, ipc) = (102, 117);
    assert_eq!(call(359, 0), errno(5), "direct socket");
    assert_eq!(call(socketcall, 1), errno(5), "SYS_SOCKET");
    assert_eq!(call(socketcall, 2), ALLOW, "SYS_BIND");
    assert_eq!(call(socketcall, 10), errno(6), "SYS_RECV, muxed only");
    assert_eq!(call(ipc, 1), errno(6), "SEMOP");
    assert_eq!(call(ipc, 2), ALLOW, "SEMGET");
    // The selector replaces the test on argument 0; the direct call keeps it.
    assert_eq!(call(socketcall, 3), errno(7), "SYS_CONNECT");
    assert_eq!(call(362, 3), errno(7), "direct connect, fd 3");
    assert_eq!(call(362, 4), ALLOW, "direct connect, fd 4");
    assert_eq!(run(&f, X86_64, nr("socket"), [0; 6]), errno(5));
}

#[test]
fn aarch64_names_are_known_even_where_they_cannot_run() {
    // renameat2 and friends aside, aarch64 has no "open": a profile
    // listing only aarch64 names must still compile on x86_64.
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{"names": ["getcwd", "sync_file_range2", "arm_fadvise64_64"],
                      "action": "SCMP_ACT_ERRNO"}]
    }));
    let f = compile(&p).unwrap();
    // Only the native ABI runs here; the rule still applies to it.
    assert_eq!(run(&f, X86_64, nr("getcwd"), [0; 6]), errno(libc::EPERM));
    assert_eq!(run(&f, AUDIT_ARCH_I386, 183, [0; 6]), KILL_THREAD);
}

#[test]
fn actions_map_to_kernel_return_values() {
    use crate::seccomp::profile::action_value;
    use oci_spec::runtime::LinuxSeccompAction as A;
    assert_eq!(action_value(A::ScmpActKill, None), 0);
    assert_eq!(action_value(A::ScmpActKillThread, None), 0);
    assert_eq!(action_value(A::ScmpActKillProcess, None), 0x8000_0000);
    assert_eq!(action_value(A::ScmpActTrap, None), 0x0003_0000);
    assert_eq!(action_value(A::ScmpActErrno, None), 0x0005_0001);
    assert_eq!(action_value(A::ScmpActErrno, Some(95)), 0x0005_005f);
    assert_eq!(action_value(A::ScmpActTrace, None), 0x7ff0_0001);
    assert_eq!(action_value(A::ScmpActTrace, Some(7)), 0x7ff0_0007);
    assert_eq!(action_value(A::ScmpActLog, None), 0x7ffc_0000);
    assert_eq!(action_value(A::ScmpActNotify, None), 0x7fc0_0000);
    assert_eq!(action_value(A::ScmpActAllow, None), 0x7fff_0000);
}

#[test]
fn flags_go_to_seccomp_and_notify_adds_a_listener() {
    let plain = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    })))
    .unwrap();
    assert!(!plain.has_notify());
    // WAIT_KILLABLE_RECV is dropped without a listener: the kernel refuses it.
    assert_eq!(plain.load_flags(), 0b111);
    let notify = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    assert!(notify.has_notify());
    // No `flags` at all: SPEC_ALLOW, as runc sets; an empty list: none.
    let default = |flags: Option<serde_json::Value>| {
        let mut p = json!({"defaultAction": "SCMP_ACT_ALLOW"});
        if let Some(flags) = flags {
            p["flags"] = flags;
        }
        compile(&profile(p)).unwrap().load_flags()
    };
    assert_eq!(default(None), libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    assert_eq!(default(Some(json!([]))), 0);
    // TSYNC | NEW_LISTENER | TSYNC_ESRCH | WAIT_KILLABLE_RECV
    assert_eq!(notify.load_flags(), 1 | 1 << 3 | 1 << 4 | 1 << 5);
}

#[test]
fn errno_ret_defaults_to_eperm_and_sets_the_errno() {
    let f = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
            {"names": ["read", "exit_group"], "action": "SCMP_ACT_ALLOW"}
        ]
    })))
    .unwrap();
    assert_eq!(run(&f, X86_64, nr("getcwd"), [0; 6]), errno(95));
    assert_eq!(run(&f, X86_64, nr("read"), [0; 6]), ALLOW);
    assert_eq!(run(&f, X86_64, nr("getpid"), [0; 6]), errno(libc::EPERM));
}

#[test]
fn an_unconditional_rule_wins_over_conditional_ones() {
    let cond = json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]);
    let f = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": cond},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": cond},
        ]
    })))
    .unwrap();
    assert_eq!(run(&f, X86_64, nr("getcwd"), [1, 0, 0, 0, 0, 0]), errno(2));
    assert_eq!(run(&f, X86_64, nr("getcwd"), [0; 6]), errno(2));
    assert_eq!(run(&f, X86_64, nr("getpid"), [1, 0, 0, 0, 0, 0]), errno(4));
}

#[test]
fn a_rule_with_the_default_action_is_skipped_as_runc_does() {
    // Were the ERRNO entry kept, it would shadow the conditional ALLOW.
    let f = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO"}
        ]
    })))
    .unwrap();
    let personality = nr("personality");
    assert_eq!(run(&f, X86_64, personality, [8, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(run(&f, X86_64, personality, [9, 0, 0, 0, 0, 0]), errno(1));
}

#[test]
fn calls_newer_than_the_profile_get_enosys() {
    let body = |default: &str, errno_ret: Option<u32>| {
        let mut p = json!({
            "defaultAction": default,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["read", "getcwd"], "action": "SCMP_ACT_TRAP"}]
        });
        if let Some(e) = errno_ret {
            p["defaultErrnoRet"] = json!(e);
        }
        compile(&profile(p)).unwrap()
    };
    let enosys = errno(libc::ENOSYS);
    let f = body("SCMP_ACT_ERRNO", None);
    let getcwd = nr("getcwd");
    assert_eq!(run(&f, X86_64, getcwd - 1, [0; 6]), errno(libc::EPERM));
    assert_eq!(run(&f, X86_64, getcwd + 1, [0; 6]), enosys);
    assert_eq!(run(&f, X86_64, 435, [0; 6]), enosys, "clone3");
    let x32_getcwd = X32_SYSCALL_BIT | getcwd;
    assert_eq!(run(&f, X86_64, x32_getcwd, [0; 6]), libc::SECCOMP_RET_TRAP);
    assert_eq!(run(&f, X86_64, x32_getcwd + 1, [0; 6]), enosys);
    let f = body("SCMP_ACT_KILL_PROCESS", None);
    assert_eq!(run(&f, X86_64, 435, [0; 6]), enosys);
    // No stub when the default already allows, or already is ENOSYS.
    let f = body("SCMP_ACT_ALLOW", None);
    assert_eq!(run(&f, X86_64, 435, [0; 6]), ALLOW);
    let f = body("SCMP_ACT_ERRNO", Some(libc::ENOSYS as u32));
    assert_eq!(run(&f, X86_64, 435, [0; 6]), enosys);
    assert!(f.len() < 20, "{} instructions", f.len());
}

#[test]
fn podman_profile_compiles_with_its_meaning() {
    let p = podman();
    let names: usize = p.syscalls().iter().flatten().map(|s| s.names().len()).sum();
    assert!(names > 420, "{names} names");
    assert!(validate(&p).is_empty(), "{:?}", validate(&p));
    let f = compile(&p).unwrap();
    assert!(f.len() < 700, "{} instructions", f.len());
    // x86_64 and x32 share one section: each audit arch is tested once.
    let arch_tests = |audit: u32| {
        let jeq = crate::seccomp::bpf::JEQ;
        f.program
            .iter()
            .filter(|i| i.code == jeq && i.k == audit)
            .count()
    };
    assert_eq!(arch_tests(X86_64), 1);
    assert_eq!(arch_tests(AUDIT_ARCH_I386), 1);
    let (ok, enosys) = (ALLOW, errno(libc::ENOSYS));
    assert_eq!(run(&f, X86_64, nr("getcwd"), [0; 6]), ok);
    assert_eq!(run(&f, X86_64, nr("execve"), [0; 6]), ok);
    assert_eq!(
        run(&f, X86_64, nr("kexec_load"), [0; 6]),
        errno(libc::EPERM)
    );
    assert_eq!(run(&f, X86_64, nr("personality"), [8, 0, 0, 0, 0, 0]), ok);
    let query = [0xffff_ffff, 0, 0, 0, 0, 0];
    assert_eq!(run(&f, X86_64, nr("personality"), query), ok);
    assert_eq!(
        run(&f, X86_64, nr("personality"), [1, 0, 0, 0, 0, 0]),
        enosys
    );
    // A hole in the allow-list, and a call past the profile's last.
    assert_eq!(run(&f, X86_64, nr("add_key"), [0; 6]), enosys);
    assert_eq!(run(&f, X86_64, nr("uselib"), [0; 6]), errno(libc::EPERM));
    assert_eq!(run(&f, X86_64, 1000, [0; 6]), enosys);
    // x86 and x32 get their own numbers; other arches are killed.
    assert_eq!(run(&f, AUDIT_ARCH_I386, 140, [0; 6]), ok, "_llseek");
    assert_eq!(run(&f, AUDIT_ARCH_I386, 183, [0; 6]), ok, "getcwd");
    assert_eq!(run(&f, X86_64, X32_SYSCALL_BIT, [0; 6]), ok, "x32 read");
    let aarch64 = crate::seccomp::arch::AUDIT_ARCH_AARCH64;
    assert_eq!(run(&f, aarch64, 17, [0; 6]), KILL_THREAD);
}
