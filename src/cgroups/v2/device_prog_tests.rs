//! The program run by a small interpreter of the instructions it uses,
//! against the rule semantics stated in the module doc, over every
//! combination of device and access that the rules can tell apart.

use super::*;
use crate::cgroups::device_rules::parse as rule;
use oci_spec::runtime::LinuxDeviceCgroup;

/// Run `p` on one request, as the kernel would (returns r0).
fn run(p: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
    let ctx = [((access << 16) | kind) as u32, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..100_000 {
        let i = p[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let w = |v: u64| v & 0xffff_ffff;
        let jump = |taken: bool| if taken { i.off as isize } else { 0 };
        let mut step = 0isize;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads come from the context");
                r[dst] = u64::from(ctx[(i.off / 4) as usize]);
            }
            ALU32_MOV_X => r[dst] = w(r[src]),
            ALU32_AND_K => r[dst] = w(r[dst] & (i.imm as u32 as u64)),
            ALU32_RSH_K => r[dst] = w(r[dst]) >> i.imm,
            ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
            JMP32_JNE_K => step = jump(w(r[dst]) != u64::from(i.imm as u32)),
            JMP32_JEQ_K => step = jump(w(r[dst]) == u64::from(i.imm as u32)),
            EXIT => return r[0],
            other => panic!("unexpected opcode {other:#x} at {pc}"),
        }
        pc = (pc as isize + 1 + step) as usize;
    }
    panic!("no exit");
}

/// The stated semantics, directly.
fn model(rules: &[Rule], kind: i32, access: i32, major: u32, minor: u32) -> bool {
    (0..3)
        .map(|b| 1 << b)
        .filter(|bit| access & bit != 0)
        .all(|bit| {
            let decided = rules.iter().rev().find(|r| match r.kind {
                None => true,
                Some(k) => {
                    dev_type(k) == kind
                        && r.major.is_none_or(|m| m == major)
                        && r.minor.is_none_or(|m| m == minor)
                        && i32::from(r.access) & bit != 0
                }
            });
            decided.is_some_and(|r| r.allow)
        })
}

fn parse(json: &str) -> Vec<Rule> {
    let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
    rules.iter().map(|r| rule(r).unwrap()).collect()
}

fn check_all(rules: &[Rule]) {
    let p = program(rules);
    for kind in [DEV_BLOCK, DEV_CHAR] {
        for access in 1..8 {
            for (major, minor) in [
                (1, 3),
                (1, 5),
                (1, 9),
                (5, 0),
                (136, 4),
                (8, 0),
                (u32::MAX, 7),
            ] {
                let want = model(rules, kind, access, major, minor);
                let got = run(&p, kind, access, major, minor);
                assert_eq!(
                    got, want as u64,
                    "type {kind} access {access} {major}:{minor} with {rules:?}"
                );
            }
        }
    }
}

#[test]
fn program_follows_the_rules() {
    let cases = [
        "[]",
        r#"[{"allow":true,"access":"rwm"}]"#,
        r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]"#,
        r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"rw"},
            {"allow":false,"type":"c","major":1,"minor":5,"access":"w"}]"#,
        r#"[{"allow":true,"type":"c","access":"m"},{"allow":true,"type":"b","access":"m"},
            {"allow":true,"type":"c","major":136,"access":"rwm"},{"allow":false,"type":"c","major":136,"minor":4,"access":"r"}]"#,
        r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":false,"access":"r"},
            {"allow":true,"type":"c","major":4294967295,"minor":7,"access":"r"}]"#,
        r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"rw"},
            {"allow":false,"type":"b","access":"w"}]"#,
    ];
    for json in cases {
        check_all(&parse(json));
    }
}

#[test]
fn the_containers_default_list() {
    let spec: oci_spec::runtime::Spec = serde_json::from_str(
        r#"{"ociVersion":"1.0.2","linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]}}}"#,
    )
    .unwrap();
    let rules: Vec<Rule> = crate::cgroups::device_rules::container_rules(&spec)
        .iter()
        .map(|r| rule(r).unwrap())
        .collect();
    check_all(&rules);
    let p = program(&rules);
    let read = ACC_READ;
    assert_eq!(run(&p, DEV_CHAR, read | ACC_WRITE, 1, 3), 1, "/dev/null");
    assert_eq!(run(&p, DEV_CHAR, read, 1, 1), 0, "/dev/mem");
    assert_eq!(
        run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0),
        1,
        "mknod of any device"
    );
    assert_eq!(run(&p, DEV_BLOCK, read, 8, 0), 0, "but not its use");
}

#[test]
fn instructions_of_a_small_program() {
    let p = program(&parse(
        r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"r"}]"#,
    ));
    let code: Vec<(u8, u8, i16, i32)> = p.iter().map(|i| (i.code, i.regs, i.off, i.imm)).collect();
    assert_eq!(
        code[6..],
        [
            (JMP32_JNE_K, 0x02, 6, DEV_CHAR),
            (JMP32_JNE_K, 0x04, 5, 1),
            (JMP32_JNE_K, 0x05, 4, 3),
            (ALU32_AND_K, 0x03, 0, !ACC_READ),
            (JMP32_JNE_K, 0x03, 2, 0),
            (ALU64_MOV_K, 0, 0, 1),
            (EXIT, 0, 0, 0),
            (ALU64_MOV_K, 0, 0, 0),
            (EXIT, 0, 0, 0),
        ]
    );
    // Rules before a reset are dropped.
    let reset = parse(
        r#"[{"allow":true,"type":"c","major":1,"access":"r"},{"allow":true,"access":"rwm"}]"#,
    );
    assert_eq!(program(&reset).len(), 8);
}

#[test]
fn bad_rules() {
    let one = |j: &str| rule(&serde_json::from_str(j).unwrap());
    assert!(one(r#"{"allow":true,"type":"p","access":"r"}"#)
        .unwrap_err()
        .contains("type \"p\""));
    assert!(one(r#"{"allow":true,"type":"c","major":-2,"access":"r"}"#)
        .unwrap_err()
        .contains("major -2"));
    assert!(one(r#"{"allow":true,"type":"c","minor":4294967296,"access":"r"}"#).is_err());
    assert!(
        one(r#"{"allow":true,"type":"c","major":4294967296,"access":"r"}"#)
            .unwrap_err()
            .contains("major 4294967296 is above 4294967295")
    );
    assert!(one(r#"{"allow":true,"access":"rx"}"#)
        .unwrap_err()
        .contains("access"));
    assert!(one(r#"{"allow":true}"#).is_err());
}
