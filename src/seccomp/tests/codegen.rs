//! Argument comparisons, architecture dispatch and long jumps, checked by
//! running the generated program.

use super::*;
use crate::seccomp::arch::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::seccomp::bpf::{Asm, JEQ};
use crate::seccomp::compile;
use serde_json::json;

const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// libseccomp's meaning of each operator, on the full 64 bits.
fn holds(op: &str, arg: u64, value: u64, value_two: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => arg & value == value_two,
        _ => unreachable!(),
    }
}

/// Values that straddle both 32-bit halves.
const VALUES: [u64; 9] = [
    0,
    1,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x1_ffff_ffff,
    0x2_0000_0000,
    0xffff_ffff_0000_0000,
    u64::MAX,
];

fn one_condition(op: &str, index: usize, value: u64, value_two: u64) -> Filter {
    compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
            "args": [{"index": index, "value": value, "valueTwo": value_two, "op": op}]}]
    })))
    .unwrap()
}

#[test]
fn every_operator_compares_all_64_bits_on_64_bit_abis() {
    let blocked = errno(33);
    for op in OPS {
        for value in VALUES {
            let value_two = value & 0x1_0000_ffff;
            let f = one_condition(op, 3, value, value_two);
            for arg in VALUES.iter().chain(&[2, 0xfffe, 0x1_0000_fffe]) {
                let mut args = [0; 6];
                args[3] = *arg;
                let want = if holds(op, *arg, value, value_two) {
                    blocked
                } else {
                    ALLOW
                };
                let got = run(&f, AUDIT_ARCH_X86_64, 135, args);
                assert_eq!(got, want, "{op} arg {arg:#x} value {value:#x}");
            }
        }
    }
}

#[test]
fn thirty_two_bit_abis_compare_the_low_half_only() {
    let blocked = errno(33);
    let x32_personality = Abi::X32.number("personality").unwrap();
    assert_eq!(x32_personality, X32_SYSCALL_BIT | 135);
    for op in OPS {
        for value in VALUES {
            let value_two = value & 0xffff;
            let f = one_condition(op, 0, value, value_two);
            for arg in [0u64, 1, 2, 0xfffe, 0xffff_fffe, 0xffff_ffff] {
                let want = if holds(op, arg, value & 0xffff_ffff, value_two) {
                    blocked
                } else {
                    ALLOW
                };
                let args = [arg, 0, 0, 0, 0, 0];
                let what = format!("{op} arg {arg:#x} value {value:#x}");
                assert_eq!(run(&f, AUDIT_ARCH_I386, 136, args), want, "x86 {what}");
                let got = run(&f, AUDIT_ARCH_X86_64, x32_personality, args);
                assert_eq!(got, want, "x32 {what}");
            }
        }
    }
}

#[test]
fn conditions_on_different_arguments_all_must_hold() {
    let f = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
            "args": [
                {"index": 2, "value": libc::O_CREAT, "valueTwo": libc::O_CREAT,
                 "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 0o600, "op": "SCMP_CMP_EQ"}
            ]}]
    })))
    .unwrap();
    let openat = Abi::X86_64.number("openat").unwrap();
    let call = |flags: i32, mode: u64| {
        run(
            &f,
            AUDIT_ARCH_X86_64,
            openat,
            [0, 0, flags as u64, mode, 0, 0],
        )
    };
    assert_eq!(call(libc::O_CREAT | libc::O_WRONLY, 0o600), errno(13));
    assert_eq!(call(libc::O_CREAT | libc::O_WRONLY, 0o644), ALLOW);
    assert_eq!(call(libc::O_WRONLY, 0o600), ALLOW);
}

#[test]
fn conditions_on_a_repeated_argument_are_alternatives_as_in_runc() {
    let f = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}
            ]}]
    })))
    .unwrap();
    for (arg, want) in [(1, errno(1)), (5, errno(1)), (3, ALLOW)] {
        assert_eq!(run(&f, AUDIT_ARCH_X86_64, 135, [arg, 0, 0, 0, 0, 0]), want);
    }
}

#[test]
fn architectures_not_listed_are_killed() {
    let only_native = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    assert_eq!(run(&only_native, AUDIT_ARCH_X86_64, 79, [0; 6]), errno(1));
    assert_eq!(run(&only_native, AUDIT_ARCH_X86_64, 0, [0; 6]), ALLOW);
    // x32 calls (bit 30) and i386 calls have no section.
    let x32_read = X32_SYSCALL_BIT;
    assert_eq!(
        run(&only_native, AUDIT_ARCH_X86_64, x32_read, [0; 6]),
        KILL_THREAD
    );
    assert_eq!(run(&only_native, AUDIT_ARCH_I386, 3, [0; 6]), KILL_THREAD);
    assert_eq!(run(&only_native, 0x1234, 0, [0; 6]), KILL_THREAD);
    // The native ABI is covered even when only compat ones are listed
    // (the runtime-spec example), as libseccomp always adds it.
    let compat = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    for (audit, nr) in [
        (AUDIT_ARCH_X86_64, 79),
        (AUDIT_ARCH_X86_64, 90),
        (AUDIT_ARCH_I386, 183),
        (AUDIT_ARCH_I386, 15),
        (AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 79),
    ] {
        assert_eq!(
            run(&compat, audit, nr, [0; 6]),
            errno(1),
            "{audit:#x} {nr:#x}"
        );
    }
    assert_eq!(run(&compat, AUDIT_ARCH_I386, 79, [0; 6]), ALLOW);
}

#[test]
fn far_jumps_go_through_stepping_stones() {
    let mut asm = Asm::default();
    let (far, near) = (asm.label(), asm.label());
    asm.stmt(crate::seccomp::bpf::LD_W_ABS, 0);
    asm.jump(JEQ, 7, Some(far), Some(near));
    asm.bind(near);
    for i in 0..600 {
        asm.jump(JEQ, 1000 + i, Some(far), None);
    }
    asm.ret(1);
    asm.bind(far);
    asm.ret(2);
    let program = asm.finish();
    assert!(program.len() > 600);
    let data = |nr: u32| {
        let mut d = [0u8; 64];
        d[..4].copy_from_slice(&nr.to_le_bytes());
        d
    };
    assert_eq!(interpret(&program, &data(7)), 2);
    assert_eq!(interpret(&program, &data(1000)), 2);
    assert_eq!(interpret(&program, &data(1599)), 2);
    assert_eq!(interpret(&program, &data(5)), 1);
}

#[test]
fn every_call_in_a_big_profile_gets_its_own_action() {
    // One distinct errno per x86_64 call: the worst case for merging ranges.
    let table = crate::seccomp::tables::X86_64;
    let syscalls: Vec<_> = table
        .iter()
        .enumerate()
        .map(|(i, (name, _))| json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1}))
        .collect();
    let f = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}),
    ))
    .unwrap();
    for (i, (_, nr)) in table.iter().enumerate() {
        assert_eq!(run(&f, AUDIT_ARCH_X86_64, *nr, [0; 6]), errno(i as i32 + 1));
    }
    assert_eq!(run(&f, AUDIT_ARCH_X86_64, 400, [0; 6]), ALLOW);
}
