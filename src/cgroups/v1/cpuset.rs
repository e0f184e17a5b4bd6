//! v1 cpuset controller: `linux.resources.cpu.cpus` and `.mems`. A new v1
//! cpuset starts with empty cpus and mems, and the kernel refuses tasks in
//! it until both are set, so every level keel makes inherits its parent's.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;
use crate::cgroups::fs::{self, Dir, Files};

const F_CPUS: &str = "linux.resources.cpu.cpus";
const F_MEMS: &str = "linux.resources.cpu.mems";

/// The file's name: hierarchies mounted with `noprefix` drop "cpuset.".
fn file(f: &dyn Files, name: &'static str) -> String {
    let prefixed = format!("cpuset.{name}");
    if f.exists(&prefixed) || !f.exists(name) {
        prefixed
    } else {
        name.to_string()
    }
}

fn wanted(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

pub fn requested(r: &LinuxResources) -> Vec<&'static str> {
    let Some(c) = r.cpu() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if wanted(c.cpus().as_ref()).is_some() {
        out.push(F_CPUS);
    }
    if wanted(c.mems().as_ref()).is_some() {
        out.push(F_MEMS);
    }
    out
}

pub fn apply(f: &dyn Files, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(c) = r.cpu() else {
        return Ok(());
    };
    for (field, name, value) in [
        (F_CPUS, "cpus", wanted(c.cpus().as_ref())),
        (F_MEMS, "mems", wanted(c.mems().as_ref())),
    ] {
        let Some(value) = value else { continue };
        if !convert::is_cpu_list(value) {
            return Err(CgroupError::invalid(
                field,
                format!("{value:?} is not a list like \"0-3,5\""),
            ));
        }
        fs::write(f, field, &file(f, name), value)?;
    }
    Ok(())
}

/// Give each of `dirs` (top-down, the first one's parent being set up) the
/// cpus and mems of its parent where its own are empty.
pub fn inherit(dirs: &[impl AsRef<Path>]) -> Result<(), CgroupError> {
    for dir in dirs {
        let dir = dir.as_ref();
        let Some(parent) = dir.parent() else { continue };
        let (parent, child) = (Dir(parent.to_path_buf()), Dir(dir.to_path_buf()));
        inherit_one(&parent, &child)?;
    }
    Ok(())
}

pub fn inherit_one(parent: &dyn Files, child: &dyn Files) -> Result<(), CgroupError> {
    let field = "cgroup setup (cpuset inherited from the parent)";
    for name in ["cpus", "mems"] {
        let name = file(child, name);
        if fs::read(child, field, &name)?.is_empty() {
            let value = fs::read(parent, field, &name)?;
            fs::write(child, field, &name, &value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fake::FakeDir;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(&format!(r#"{{"cpu":{json}}}"#)).unwrap()
    }

    #[test]
    fn cpus_and_mems() {
        let d = FakeDir::new(&[("cpuset.cpus", ""), ("cpuset.mems", "")]);
        let r = res(r#"{"cpus":"0-1","mems":"0","shares":2}"#);
        apply(&d, &r).unwrap();
        assert_eq!(d.writes(), ["cpuset.cpus=0-1", "cpuset.mems=0"]);
        assert_eq!(requested(&r), [F_CPUS, F_MEMS]);
        assert!(requested(&res(r#"{"cpus":""}"#)).is_empty());
        let e = apply(&d, &res(r#"{"cpus":"0-"}"#)).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.cpu.cpus: \"0-\" is not a list like \"0-3,5\""
        );
        let noprefix = FakeDir::new(&[("cpus", ""), ("mems", "")]);
        apply(&noprefix, &res(r#"{"mems":"0"}"#)).unwrap();
        assert_eq!(noprefix.writes(), ["mems=0"]);
    }

    #[test]
    fn empty_sets_come_from_the_parent() {
        let parent = FakeDir::new(&[("cpuset.cpus", "0-1"), ("cpuset.mems", "0")]);
        let child = FakeDir::new(&[("cpuset.cpus", ""), ("cpuset.mems", "0")]);
        inherit_one(&parent, &child).unwrap();
        assert_eq!(child.writes(), ["cpuset.cpus=0-1"]);
    }
}
