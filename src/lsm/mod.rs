//! AppArmor profiles and SELinux labels: `process.apparmorProfile`,
//! `process.selinuxLabel` and `linux.mountLabel`.
//!
//! Each is applied where the host has the LSM, and refused with an error
//! naming the field where it has not: a container started without the
//! confinement its config asks for would be silently weaker.
//!
//! The process labels take effect at the process's execve: keel writes them
//! to its own `/proc/thread-self/attr` files (attr.rs, through keel's
//! verified procfs) after the last step that needs keel's own freedom and
//! before any seccomp filter is loaded, for the container's init and for
//! `exec`'d processes alike. The mount label goes into the mount data of
//! the filesystems keel mounts (selinux.rs says which).

mod apparmor;
mod attr;
pub mod selinux;

pub use attr::{AttrError, Attrs, ProcAttrs};

use crate::procfs::{ProcError, ProcRoot};
use oci_spec::runtime::{Process, Spec};

#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    #[error(
        "process.apparmorProfile: {0:?}: no AppArmor profile of that name is loaded \
         (load it with apparmor_parser)"
    )]
    ProfileNotLoaded(String),
    #[error("process.apparmorProfile: {profile:?}: switch to it at exec: {source}")]
    AppArmor { profile: String, source: AttrError },
    #[error("process.selinuxLabel: {label:?}: {what}: {source}")]
    Selinux {
        label: String,
        what: &'static str,
        source: AttrError,
    },
    #[error("LSM labels: {0}")]
    Proc(#[from] ProcError),
}

/// AppArmor is on, as its module parameter says (the kernel clears it when
/// AppArmor is built in but another major LSM was chosen). runc also wants
/// securityfs mounted; keel does not need it to apply a profile.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// SELinux is on, as runc decides it: selinuxfs is mounted.
pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// The labels a process asks for; an empty string asks for none.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Labels {
    pub apparmor: Option<String>,
    pub selinux: Option<String>,
}

impl Labels {
    pub fn of(process: &Process) -> Labels {
        let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        Labels {
            apparmor: set(process.apparmor_profile()),
            selinux: set(process.selinux_label()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.apparmor.is_none() && self.selinux.is_none()
    }
}

/// Have the calling thread's next execve take on `labels`.
pub fn set_exec_labels(attrs: &dyn Attrs, labels: &Labels) -> Result<(), LsmError> {
    if let Some(profile) = &labels.apparmor {
        apparmor::change_onexec(attrs, profile)?;
    }
    if let Some(label) = &labels.selinux {
        selinux::set_exec(attrs, label)?;
    }
    Ok(())
}

/// `set_exec_labels` on the calling thread's files in `proc`, for labels
/// the caller found not empty.
pub fn apply_exec_labels(proc: &ProcRoot, labels: &Labels) -> Result<(), LsmError> {
    set_exec_labels(&ProcAttrs::new(proc)?, labels)
}

/// Run `join` (the session keyring join) under the SELinux key label of
/// `labels`, if any (selinux.rs).
pub fn with_key_label<R>(
    proc: &ProcRoot,
    labels: &Labels,
    join: impl FnOnce() -> R,
) -> Result<R, LsmError> {
    match labels.selinux.as_deref() {
        None => Ok(join()),
        Some(label) => selinux::with_key_label(&ProcAttrs::new(proc)?, label, join),
    }
}

/// The config's LSM fields this host cannot honour, as (JSON path,
/// message).
pub fn validate(spec: &Spec) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if let Some(process) = spec.process() {
        problems.extend(validate_process(process, "process."));
    }
    if let Some(label) = selinux::mount_label(spec) {
        // It is written inside a quoted mount option.
        problems.extend(check("linux.mountLabel", &label, Lsm::Selinux, &['"']));
    }
    problems
}

/// The process's LSM fields this host cannot honour; `prefix` is
/// "process." in config.json and empty in an exec process document.
pub fn validate_process(process: &Process, prefix: &str) -> Vec<(String, String)> {
    let labels = Labels::of(process);
    let apparmor = labels
        .apparmor
        .iter()
        .map(|v| ("apparmorProfile", v, Lsm::AppArmor));
    let selinux = labels
        .selinux
        .iter()
        .map(|v| ("selinuxLabel", v, Lsm::Selinux));
    apparmor
        .chain(selinux)
        .flat_map(|(field, value, lsm)| check(&format!("{prefix}{field}"), value, lsm, &[]))
        .collect()
}

#[derive(Clone, Copy)]
pub enum Lsm {
    AppArmor,
    Selinux,
}

impl Lsm {
    fn name(self) -> &'static str {
        match self {
            Lsm::AppArmor => "AppArmor",
            Lsm::Selinux => "SELinux",
        }
    }

    fn enabled(self) -> bool {
        match self {
            Lsm::AppArmor => apparmor_enabled(),
            Lsm::Selinux => selinux_enabled(),
        }
    }
}

/// A label for `lsm`: the host must have it; the kernel takes each
/// attribute write as one line, and `also` lists characters the label's
/// other uses cannot carry.
fn check(path: &str, value: &str, lsm: Lsm, also: &[char]) -> Option<(String, String)> {
    let why = if !lsm.enabled() {
        format!(
            "this host has no {} (it is not enabled in the kernel)",
            lsm.name()
        )
    } else if let Some(c) = value
        .chars()
        .find(|c| ['\n', '\0'].contains(c) || also.contains(c))
    {
        format!("must not contain {c:?}")
    } else {
        return None;
    };
    Some((path.to_string(), format!("{value:?}: {why}")))
}

/// The problem with a label given on the command line (`--apparmor`), if
/// any, as one message.
pub fn check_flag(flag: &str, value: &str, lsm: Lsm) -> Option<String> {
    check(flag, value, lsm, &[]).map(|(path, msg)| format!("{path} {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn empty_labels_ask_for_nothing() {
        let p = process(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"apparmorProfile":"","selinuxLabel":""}"#,
        );
        assert!(Labels::of(&p).is_empty());
        assert!(validate_process(&p, "process.").is_empty());
    }

    #[test]
    fn labels_are_written_apparmor_then_selinux() {
        let attrs = attr::fake::FakeAttrs::default();
        let labels = Labels {
            apparmor: Some("p".into()),
            selinux: Some("u:r:t:s0".into()),
        };
        set_exec_labels(&attrs, &labels).unwrap();
        let names: Vec<String> = attrs.writes.borrow().iter().map(|w| w.0.clone()).collect();
        assert_eq!(names, ["apparmor/exec", "exec"]);
    }

    #[test]
    fn without_a_selinux_label_the_keyring_is_joined_untouched() {
        // Nothing is written, so no test thread's label can change.
        let proc = ProcRoot::open().unwrap();
        assert_eq!(with_key_label(&proc, &Labels::default(), || 7).unwrap(), 7);
    }

    #[test]
    fn problems_name_the_field_and_value() {
        let p = process(r#"{"cwd":"/","user":{"uid":0,"gid":0},"apparmorProfile":"a\nb"}"#);
        let problems = validate_process(&p, "");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "apparmorProfile");
        assert!(problems[0].1.starts_with("\"a\\nb\": "), "{problems:?}");
        let expected = if apparmor_enabled() {
            "must not contain '\\n'"
        } else {
            "this host has no AppArmor"
        };
        assert!(problems[0].1.contains(expected), "{problems:?}");
    }
}
