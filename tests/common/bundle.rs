//! OCI bundles for tests: a busybox rootfs and a config.json to edit.
//!
//! `hack/mkbundle.sh` builds one template per runtime binary under cargo's
//! target tmp dir; each test copies it, so tests never share a rootfs.

use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const MKBUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hack/mkbundle.sh");

/// A bundle directory and its config, edited in memory until `save`.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

/// The template bundle for the runtime under test, built on first use.
pub fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(build_template)
}

/// Build (or reuse) the template. A file lock serialises test processes that
/// start at once; a stamp records which runtime and script made it, so
/// switching runtimes or editing the script rebuilds it.
fn build_template() -> PathBuf {
    let runtime = super::runtime_path();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keel-bundle");
    fs::create_dir_all(&base).expect("create template base dir");
    let lock = fs::File::create(base.join("lock")).expect("create template lock");
    // SAFETY: flock on an fd we own; released when `lock` is closed.
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) },
        0,
        "flock"
    );

    let dir = base.join("template");
    let stamp_path = base.join("template.stamp");
    let stamp = format!(
        "{}\n{}\n{}\n",
        runtime.display(),
        mtime(&runtime),
        mtime(Path::new(MKBUNDLE))
    );
    if dir.is_dir() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return dir;
    }
    let _ = fs::remove_dir_all(&dir);
    let tmp = base.join("template.tmp");
    let _ = fs::remove_dir_all(&tmp);
    let out = Command::new(MKBUNDLE)
        .arg(&tmp)
        .arg(&runtime)
        .output()
        .expect("run mkbundle.sh");
    assert!(
        out.status.success(),
        "hack/mkbundle.sh {} {} failed: {}{}",
        tmp.display(),
        runtime.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::rename(&tmp, &dir).expect("move template into place");
    fs::write(&stamp_path, stamp).expect("write template stamp");
    dir
}

fn mtime(path: &Path) -> String {
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    format!("{}.{}", m.mtime(), m.mtime_nsec())
}

/// `cp -a SRC/. DEST`: copies symlinks, modes and owners as they are.
pub fn copy_tree(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).expect("create copy destination");
    let status = Command::new("cp")
        .arg("-a")
        .arg(src.join("."))
        .arg(dest)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {} failed",
        src.display(),
        dest.display()
    );
}

impl Bundle {
    /// A private copy of the template at `dir`, with the test defaults:
    /// no `linux.resources` and no cgroup mount, since keel does not manage
    /// cgroups yet and the tests must not depend on them.
    pub fn new(dir: &Path) -> Bundle {
        copy_tree(template(), dir);
        let text = fs::read_to_string(dir.join("config.json")).expect("read template config");
        let mut bundle = Bundle {
            dir: dir.to_path_buf(),
            config: serde_json::from_str(&text).unwrap(),
        };
        bundle.remove("/linux/resources");
        let mounts = bundle.config["mounts"]
            .as_array_mut()
            .expect("template has mounts");
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        bundle
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        fs::write(self.config_path(), text).expect("write config.json");
    }

    /// Set the value at a JSON pointer (`/process/cwd`), creating missing
    /// objects on the way.
    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        let mut node = &mut self.config;
        for token in pointer.split('/').skip(1) {
            node = match node {
                Value::Array(items) => {
                    let i: usize = token.parse().expect("array index in pointer");
                    &mut items[i]
                }
                _ => {
                    if !node.is_object() {
                        *node = json!({});
                    }
                    node.as_object_mut()
                        .unwrap()
                        .entry(token)
                        .or_insert(Value::Null)
                }
            };
        }
        *node = value;
        self
    }

    /// Remove the member at a JSON pointer, if present.
    pub fn remove(&mut self, pointer: &str) -> &mut Self {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
        match self.config.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(key);
            }
            Some(Value::Array(items)) => {
                items.remove(key.parse::<usize>().expect("array index"));
            }
            _ => {}
        }
        self
    }

    /// Append to the array at a JSON pointer, creating it if missing.
    pub fn push(&mut self, pointer: &str, value: Value) -> &mut Self {
        if !self.config.pointer(pointer).is_some_and(Value::is_array) {
            self.set(pointer, json!([]));
        }
        self.config
            .pointer_mut(pointer)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(value);
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// Run `script` with the rootfs's busybox sh.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn env(&mut self, var: &str) -> &mut Self {
        self.push("/process/env", json!(var))
    }

    pub fn hostname(&mut self, name: &str) -> &mut Self {
        self.set("/hostname", json!(name))
    }

    /// Bind-mount host `source` at `dest` in the container. The mount point
    /// is made here so a read-only rootfs does not get in the way.
    pub fn bind(&mut self, source: &Path, dest: &str, options: &[&str]) -> &mut Self {
        let point = self.rootfs().join(dest.trim_start_matches('/'));
        if source.is_dir() {
            fs::create_dir_all(&point).expect("create bind mount point");
        }
        let mut opts = vec!["rbind"];
        opts.extend_from_slice(options);
        let mount = json!({"destination": dest, "type": "bind", "source": source, "options": opts});
        self.push("/mounts", mount)
    }

    /// Add a hook of `kind` (`createRuntime`, ...) running `/bin/sh -c script`.
    pub fn sh_hook(&mut self, kind: &str, script: &str) -> &mut Self {
        let hook = json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
        self.push(&format!("/hooks/{kind}"), hook)
    }

    /// Drop the namespace of `kind` (`pid`, `network`, ...) from the config.
    pub fn remove_namespace(&mut self, kind: &str) -> &mut Self {
        let namespaces = self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        namespaces.retain(|ns| ns["type"] != kind);
        self
    }

    /// The index of `kind` in `linux.namespaces` (for messages naming it).
    pub fn namespace_index(&self, kind: &str) -> usize {
        let namespaces = self.config["linux"]["namespaces"]
            .as_array()
            .expect("namespaces");
        namespaces
            .iter()
            .position(|ns| ns["type"] == kind)
            .expect("namespace present")
    }
}
