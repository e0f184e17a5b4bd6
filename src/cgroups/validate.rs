//! Checks of `linux.cgroupsPath` and `linux.resources` without side
//! effects: malformed or out-of-range values, device rules the cgroup
//! cannot express, and resources this host cannot apply. Each problem is
//! (JSON path, message); one run reports all of them.

use oci_spec::runtime::{LinuxResources, Spec};

use super::layout::Layout;
use super::{apply, convert, device_rules, path, v2};

type Problems = Vec<(String, String)>;

/// Validate against this host's layout (read, never written).
pub fn validate(spec: &Spec) -> Problems {
    validate_with(spec, Layout::detect().ok().as_ref())
}

/// Validate; host checks only when the layout is known.
pub fn validate_with(spec: &Spec, layout: Option<&Layout>) -> Problems {
    let mut out = Problems::new();
    let Some(linux) = spec.linux() else {
        return out;
    };
    if let Some(p) = linux.cgroups_path() {
        if let Err(e) = path::resolve(Some(p), "id") {
            out.push(("linux.cgroupsPath".into(), e.to_string()));
        }
    }
    let Some(r) = linux.resources() else {
        return out;
    };
    memory(r, &mut out);
    cpu(r, &mut out);
    other_values(r, &mut out);
    devices(r, &mut out);
    if let Some(layout) = layout {
        host(r, layout, &mut out);
    }
    out
}

fn push(out: &mut Problems, field: impl Into<String>, msg: impl Into<String>) {
    out.push((field.into(), msg.into()));
}

fn below_minus_one(out: &mut Problems, field: &str, v: Option<i64>) {
    if let Some(v) = v.filter(|v| *v < -1) {
        push(out, field, format!("{v} is below -1 (unlimited)"));
    }
}

fn memory(r: &LinuxResources, out: &mut Problems) {
    let Some(m) = r.memory() else { return };
    #[allow(deprecated)]
    let kernel = m.kernel();
    let p = "linux.resources.memory";
    below_minus_one(out, &format!("{p}.limit"), m.limit());
    below_minus_one(out, &format!("{p}.reservation"), m.reservation());
    below_minus_one(out, &format!("{p}.swap"), m.swap());
    below_minus_one(out, &format!("{p}.kernel"), kernel);
    below_minus_one(out, &format!("{p}.kernelTCP"), m.kernel_tcp());
    if let (Some(limit), Some(swap)) = (m.limit(), m.swap()) {
        if limit > 0 && swap > 0 && swap < limit {
            push(
                out,
                format!("{p}.swap"),
                format!("{swap} (memory+swap) is below the memory limit {limit}"),
            );
        }
    }
    if let Some(s) = m.swappiness().filter(|s| *s > 100) {
        push(
            out,
            format!("{p}.swappiness"),
            format!("{s} is outside 0..100"),
        );
    }
}

fn cpu(r: &LinuxResources, out: &mut Problems) {
    let Some(c) = r.cpu() else { return };
    let p = "linux.resources.cpu";
    below_minus_one(out, &format!("{p}.quota"), c.quota());
    below_minus_one(out, &format!("{p}.realtimeRuntime"), c.realtime_runtime());
    if let Some(q) = c.quota().filter(|q| (1..1000).contains(q)) {
        push(
            out,
            format!("{p}.quota"),
            format!("{q} is below the kernel's minimum of 1000 (µs)"),
        );
    }
    if let Some(v) = c
        .period()
        .filter(|v| *v != 0 && !(1000..=1_000_000).contains(v))
    {
        push(
            out,
            format!("{p}.period"),
            format!("{v} is outside 1000..1000000 (µs)"),
        );
    }
    if let Some(i) = c.idle().filter(|i| !(0..=1).contains(i)) {
        push(out, format!("{p}.idle"), format!("{i} must be 0 or 1"));
    }
    for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            if !convert::is_cpu_list(v) {
                push(
                    out,
                    format!("{p}.{name}"),
                    format!("{v:?} is not a list like \"0-3,5\""),
                );
            }
        }
    }
}

fn other_values(r: &LinuxResources, out: &mut Problems) {
    if let Some(p) = r.pids() {
        below_minus_one(out, "linux.resources.pids.limit", Some(p.limit()));
    }
    if let Some(b) = r.block_io() {
        let weight = |out: &mut Problems, field: String, w: Option<u16>| {
            if let Some(w) = w.filter(|w| *w != 0 && !(10..=1000).contains(w)) {
                push(out, field, format!("{w} is outside 10..1000"));
            }
        };
        let p = "linux.resources.blockIO";
        weight(out, format!("{p}.weight"), b.weight());
        weight(out, format!("{p}.leafWeight"), b.leaf_weight());
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            weight(out, format!("{p}.weightDevice[{i}].weight"), d.weight());
            weight(
                out,
                format!("{p}.weightDevice[{i}].leafWeight"),
                d.leaf_weight(),
            );
        }
    }
    for (i, l) in r.hugepage_limits().iter().flatten().enumerate() {
        if let Err(msg) = convert::check_hugepage(l.page_size(), l.limit()) {
            push(out, format!("linux.resources.hugepageLimits[{i}]"), msg);
        }
    }
    let prios = r.network().as_ref().and_then(|n| n.priorities().as_ref());
    for (i, p) in prios.into_iter().flatten().enumerate() {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            push(
                out,
                format!("linux.resources.network.priorities[{i}].name"),
                format!("interface name {:?} is empty or has blanks", p.name()),
            );
        }
    }
}

fn devices(r: &LinuxResources, out: &mut Problems) {
    for (i, rule) in r.devices().iter().flatten().enumerate() {
        if let Err(msg) = device_rules::rule_line(rule) {
            push(out, format!("linux.resources.devices[{i}]"), msg);
        }
    }
}

fn host(r: &LinuxResources, layout: &Layout, out: &mut Problems) {
    for (field, why) in apply::unsupported(layout, r) {
        push(out, field, format!("not supported on this host: {why}"));
    }
    let mut keys: Vec<&String> = r.unified().iter().flat_map(|m| m.keys()).collect();
    keys.sort();
    for key in keys {
        if let Err(msg) = v2::check_key(key, layout) {
            push(out, v2::unified_field(key), msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::layout::tests::host as host_layout;

    fn problems(linux: &str) -> Problems {
        let spec: Spec =
            serde_json::from_str(&format!(r#"{{"ociVersion":"1.0.2","linux":{linux}}}"#)).unwrap();
        validate_with(&spec, Some(&host_layout()))
    }

    fn fields(p: &Problems) -> Vec<&str> {
        p.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_good_config_has_no_problems() {
        let p = problems(
            r#"{"cgroupsPath":"/keel-test/x","resources":{
                "memory":{"limit":67108864,"swap":134217728,"swappiness":10},
                "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},
                "pids":{"limit":-1},"blockIO":{"throttleReadBpsDevice":[{"major":254,"minor":0,"rate":1}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}],
                "unified":{"hugetlb.1GB.max":"0"}}}"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert!(problems("{}").is_empty());
    }

    #[test]
    fn bad_values_with_their_paths() {
        let p = problems(
            r#"{"cgroupsPath":"/","resources":{
                "memory":{"limit":-2,"swap":100,"reservation":-1},
                "cpu":{"quota":500,"period":10,"idle":2,"cpus":"0-"},
                "pids":{"limit":-3},"blockIO":{"weight":5},
                "hugepageLimits":[{"pageSize":"2M","limit":1}],
                "devices":[{"allow":true,"type":"p","access":"rw"},{"allow":true,"access":""}],
                "network":{"priorities":[{"name":"","priority":1}]}}}"#,
        );
        assert_eq!(
            fields(&p),
            [
                "linux.cgroupsPath",
                "linux.resources.memory.limit",
                "linux.resources.cpu.quota",
                "linux.resources.cpu.period",
                "linux.resources.cpu.idle",
                "linux.resources.cpu.cpus",
                "linux.resources.pids.limit",
                "linux.resources.blockIO.weight",
                "linux.resources.hugepageLimits[0]",
                "linux.resources.network.priorities[0].name",
                "linux.resources.devices[0]",
                "linux.resources.devices[1]",
                "linux.resources.network.priorities",
            ]
        );
        assert!(p[10].1.contains("type \"p\""), "{p:?}");
        assert!(p[12]
            .1
            .starts_with("not supported on this host: the net_prio controller"));
    }

    #[test]
    fn unified_keys_this_host_cannot_take() {
        let p = problems(r#"{"resources":{"unified":{"memory.high":"1","io.weight":"1"}}}"#);
        assert_eq!(
            fields(&p),
            [
                "linux.resources.unified[\"io.weight\"]",
                "linux.resources.unified[\"memory.high\"]"
            ]
        );
        assert!(p[1].1.contains("cgroup v1 controller here"), "{p:?}");
    }
}
