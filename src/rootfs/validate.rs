//! Problems in the rootfs-related parts of a config that can be found
//! without touching the system, reported as (JSON path, message).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use super::mounts::{self, Kind};
use super::options;
use super::{idmap, resolve};

pub type Problem = (String, String);

fn problem(field: String, msg: impl Into<String>) -> Problem {
    (field, msg.into())
}

fn has_nul(p: &Path) -> bool {
    p.as_os_str().as_bytes().contains(&0)
}

/// Every problem in `mounts`, `linux.devices`, `linux.maskedPaths`,
/// `linux.readonlyPaths` and `linux.rootfsPropagation`.
pub fn validate(spec: &Spec) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        out.extend(mount_problems(i, m));
    }
    out.extend(idmap::problems(spec));
    let Some(linux) = spec.linux() else {
        return out;
    };
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = |f: &str| format!("linux.devices[{i}].{f}");
        if d.path().as_os_str().is_empty() {
            out.push(problem(field("path"), "is required"));
        } else if !d.path().is_absolute() {
            out.push(problem(field("path"), "must be an absolute path"));
        }
        if d.typ() == LinuxDeviceType::A {
            out.push(problem(
                field("type"),
                "must be one of \"c\", \"b\", \"u\", \"p\"",
            ));
        }
        for (name, v) in [("major", d.major()), ("minor", d.minor())] {
            if u32::try_from(v).is_err() {
                out.push(problem(field(name), "must be between 0 and 4294967295"));
            }
        }
    }
    let lists = [
        ("maskedPaths", linux.masked_paths()),
        ("readonlyPaths", linux.readonly_paths()),
    ];
    for (name, list) in lists {
        for (i, p) in list.iter().flatten().enumerate() {
            if !Path::new(p).is_absolute() {
                out.push(problem(
                    format!("linux.{name}[{i}]"),
                    "must be an absolute path",
                ));
            }
        }
    }
    if let Some(v) = linux.rootfs_propagation() {
        if options::propagation(v).is_none() {
            let known = options::propagation_names().join(", ");
            out.push(problem(
                "linux.rootfsPropagation".into(),
                format!("unknown propagation {v:?} (known: {known})"),
            ));
        }
    }
    out
}

/// Problems that only exist with `--no-pivot`.
pub fn validate_no_pivot(spec: &Spec) -> Vec<Problem> {
    let prop = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref());
    match prop.and_then(|v| options::propagation(v).map(|f| (v, f))) {
        Some((v, f)) if f & libc::MS_PRIVATE != 0 => vec![problem(
            "linux.rootfsPropagation".into(),
            format!("{v:?} is not safe without pivot_root"),
        )],
        _ => Vec::new(),
    }
}

/// The problems of `mounts[index]`.
pub fn mount_problems(index: usize, m: &Mount) -> Vec<Problem> {
    let field = |f: &str| format!("mounts[{index}].{f}");
    let mut out = Vec::new();
    let dest = m.destination();
    if has_nul(dest) {
        out.push(problem(field("destination"), "must not contain a NUL byte"));
    } else if !dest.is_absolute() {
        out.push(problem(field("destination"), "must be an absolute path"));
    } else if resolve::clean(dest) == Path::new("/") {
        out.push(problem(
            field("destination"),
            "must not be the container's root directory",
        ));
    }
    let (kind, e) = mounts::entry(m);
    match (kind, e.source) {
        (_, Some(s)) if has_nul(s) => {
            out.push(problem(field("source"), "must not contain a NUL byte"))
        }
        (Kind::Bind, None) => out.push(problem(field("source"), "is required for a bind mount")),
        _ => {}
    }
    if kind == Kind::Fs && e.fstype.is_empty() {
        out.push(problem(
            field("type"),
            "is required unless the options contain \"bind\" or \"rbind\"",
        ));
    } else if e.fstype.contains('\0') {
        out.push(problem(field("type"), "must not contain a NUL byte"));
    }
    if e.opts.tmpcopyup && (kind != Kind::Fs || e.fstype != "tmpfs") {
        let at = m
            .options()
            .iter()
            .flatten()
            .position(|o| o == options::TMPCOPYUP);
        out.push(problem(
            field(&format!("options[{}]", at.unwrap_or(0))),
            "\"tmpcopyup\" only applies to a tmpfs mount",
        ));
    }
    for (j, opt) in &e.opts.unknown {
        let f = field(&format!("options[{j}]"));
        if kind == Kind::Bind && !opt.contains('=') {
            // `key=value` is filesystem data, which mount(2) ignores for
            // MS_BIND, and runc passes it along (runtime-tools' mounts puts
            // mode= and size= on binds); a bare unknown word is more likely
            // a misspelt flag.
            out.push(problem(
                f,
                format!("unknown mount option {opt:?} for a bind mount"),
            ));
        } else if kind == Kind::Cgroup {
            out.push(problem(
                f,
                format!("unknown mount option {opt:?} for a cgroup mount"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Vec<Problem> {
        let spec: Spec = serde_json::from_str(json).unwrap();
        validate(&spec)
    }

    fn p(f: &str, m: &str) -> Problem {
        (f.to_string(), m.to_string())
    }

    #[test]
    fn typical_config_is_clean() {
        let problems = check(
            r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"mounts":[
            {"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
            {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
            {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
            {"destination":"/data","type":"bind","source":"/srv","options":["rbind","ro","rprivate"]}],
            "linux":{"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"rootfsPropagation":"rslave",
            "devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]}}"#,
        );
        assert_eq!(problems, Vec::<Problem>::new());
    }

    #[test]
    fn mount_problems_are_located() {
        let problems = check(
            r#"{"ociVersion":"1.2.0","mounts":[
            {"destination":"/a","type":"bind","source":"/x","options":["rbind","foo"]},
            {"destination":"rel","type":"tmpfs"},
            {"destination":"/b","options":["bind"]},
            {"destination":"/c"},
            {"destination":"/..","type":"tmpfs"},
            {"destination":"/d","type":"cgroup","options":["ro","bar"]},
            {"destination":"/e","type":"tmpfs","options":["size=1m"]},
            {"destination":"/f","type":"bind","source":"/x","options":["tmpcopyup"]},
            {"destination":"/g","type":"tmpfs","options":["tmpcopyup"]}]}"#,
        );
        assert_eq!(
            problems,
            vec![
                p(
                    "mounts[0].options[1]",
                    "unknown mount option \"foo\" for a bind mount"
                ),
                p("mounts[1].destination", "must be an absolute path"),
                p("mounts[2].source", "is required for a bind mount"),
                p(
                    "mounts[3].type",
                    "is required unless the options contain \"bind\" or \"rbind\""
                ),
                p(
                    "mounts[4].destination",
                    "must not be the container's root directory"
                ),
                p(
                    "mounts[5].options[1]",
                    "unknown mount option \"bar\" for a cgroup mount"
                ),
                p(
                    "mounts[7].options[0]",
                    "\"tmpcopyup\" only applies to a tmpfs mount"
                ),
            ]
        );
    }

    #[test]
    fn linux_problems_are_located() {
        let problems = check(
            r#"{"ociVersion":"1.2.0","linux":{
            "devices":[{"path":"dev/x","type":"a","major":-1}],
            "maskedPaths":["/ok","proc/kcore"],"readonlyPaths":["x"],"rootfsPropagation":"sideways"}}"#,
        );
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert_eq!(
            problems[0],
            p("linux.devices[0].path", "must be an absolute path")
        );
        assert_eq!(
            problems[1],
            p(
                "linux.devices[0].type",
                "must be one of \"c\", \"b\", \"u\", \"p\""
            )
        );
        assert_eq!(
            problems[2],
            p("linux.devices[0].major", "must be between 0 and 4294967295")
        );
        assert_eq!(
            problems[3],
            p("linux.maskedPaths[1]", "must be an absolute path")
        );
        assert_eq!(
            problems[4],
            p("linux.readonlyPaths[0]", "must be an absolute path")
        );
        assert_eq!(problems[5].0, "linux.rootfsPropagation");
        assert!(problems[5]
            .1
            .starts_with("unknown propagation \"sideways\" (known: "));
    }

    #[test]
    fn no_pivot_rejects_private_root() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","linux":{"rootfsPropagation":"rprivate"}}"#,
        )
        .unwrap();
        assert_eq!(validate_no_pivot(&spec).len(), 1);
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","linux":{"rootfsPropagation":"rslave"}}"#,
        )
        .unwrap();
        assert!(validate_no_pivot(&spec).is_empty());
    }
}
