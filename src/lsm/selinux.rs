//! SELinux: the label a process gets at its execve, the label of the keys
//! it creates while joining its session keyring, and the context of the
//! filesystems keel mounts for the container, each as runc (through
//! go-selinux) sets them.

use super::attr::{AttrError, Attrs};
use super::LsmError;
use std::path::Path;

/// A `map_err` for a failed attribute write of `label` while doing `what`.
fn refused(label: &str, what: &'static str) -> impl FnOnce(AttrError) -> LsmError {
    let label = label.to_string();
    move |source| LsmError::Selinux {
        label,
        what,
        source,
    }
}

/// Have the next execve give the process `label`.
pub fn set_exec(attrs: &dyn Attrs, label: &str) -> Result<(), LsmError> {
    attrs
        .write("exec", label.as_bytes())
        .map_err(refused(label, "set the label the process gets at exec"))
}

/// Run `join` (the session keyring join) with `label` as the label of the
/// keys it creates, so the container's keyring carries the container's
/// label, then clear it again, as runc does.
pub fn with_key_label<R>(
    attrs: &dyn Attrs,
    label: &str,
    join: impl FnOnce() -> R,
) -> Result<R, LsmError> {
    attrs
        .write("keycreate", label.as_bytes())
        .map_err(refused(label, "label the session keyring"))?;
    let out = join();
    // runc ignores a failure here too: execve clears the attribute anyway.
    let _ = attrs.write("keycreate", b"");
    Ok(out)
}

/// `linux.mountLabel`, if the config sets one.
pub fn mount_label(spec: &oci_spec::runtime::Spec) -> Option<String> {
    let linux = spec.linux().as_ref()?;
    linux.mount_label().clone().filter(|l| !l.is_empty())
}

/// `data` with `context="<label>"` added, go-selinux's FormatMountLabel:
/// quoted, since labels hold commas (`s0:c1,c2`).
pub fn format_mount_label(data: &str, label: &str) -> String {
    let context = format!("context=\"{label}\"");
    if data.is_empty() {
        context
    } else {
        format!("{data},{context}")
    }
}

/// The mount data for a fresh filesystem of `fstype` in a container with
/// `linux.mountLabel`. runc adds the context to every filesystem it mounts
/// except proc and sysfs (labelled by policy) and mqueue (labelled after
/// the mount: `label_mount_root`); bind mounts take no data at all.
pub fn mount_data(fstype: &str, data: &str, label: Option<&str>) -> String {
    match label {
        Some(label) if !matches!(fstype, "proc" | "sysfs" | "mqueue") => {
            format_mount_label(data, label)
        }
        _ => data.to_string(),
    }
}

/// After mounting `fstype` at `root` (a path that reaches the new mount's
/// root): runc gives an mqueue mount the label on its root directory
/// instead of a context option.
pub fn label_mount_root(fstype: &str, root: &Path, label: Option<&str>) -> std::io::Result<()> {
    match label {
        Some(label) if labels_root(fstype, Some(label)) => {
            crate::syscall::setxattr(root, c"security.selinux", label.as_bytes())
        }
        _ => Ok(()),
    }
}

/// Whether `label_mount_root` has anything to do for a mount of `fstype`.
pub fn labels_root(fstype: &str, label: Option<&str>) -> bool {
    label.is_some() && fstype == "mqueue"
}

#[cfg(test)]
mod tests {
    use super::super::attr::fake::FakeAttrs;
    use super::*;

    const LABEL: &str = "system_u:object_r:container_file_t:s0:c1,c2";

    #[test]
    fn mount_label_is_quoted_and_appended() {
        assert_eq!(
            format_mount_label("", LABEL),
            "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(
            format_mount_label("mode=755,size=65536k", "x_t"),
            "mode=755,size=65536k,context=\"x_t\""
        );
    }

    #[test]
    fn mount_label_goes_where_runc_puts_it() {
        for fstype in ["tmpfs", "devpts", "cgroup2", "overlay"] {
            assert_eq!(
                mount_data(fstype, "mode=755", Some("x_t")),
                "mode=755,context=\"x_t\"",
                "{fstype}"
            );
        }
        for fstype in ["proc", "sysfs", "mqueue"] {
            assert_eq!(mount_data(fstype, "nosuid", Some("x_t")), "nosuid");
        }
        assert_eq!(mount_data("tmpfs", "mode=755", None), "mode=755");
    }

    #[test]
    fn only_mqueue_is_labelled_after_the_mount() {
        // Nothing is written for these, so a path that does not exist
        // proves no call was made.
        let nowhere = Path::new("/nonexistent/keel");
        assert!(label_mount_root("tmpfs", nowhere, Some("x_t")).is_ok());
        assert!(label_mount_root("mqueue", nowhere, None).is_ok());
        assert!(label_mount_root("mqueue", nowhere, Some("x_t")).is_err());
    }

    #[test]
    fn exec_label_is_written_whole() {
        let attrs = FakeAttrs::default();
        set_exec(&attrs, LABEL).unwrap();
        assert_eq!(
            *attrs.writes.borrow(),
            [("exec".to_string(), LABEL.to_string())]
        );
    }

    #[test]
    fn a_refused_label_names_the_field() {
        let attrs = FakeAttrs {
            refuse: vec![("exec", libc::EINVAL)],
            ..FakeAttrs::default()
        };
        let err = set_exec(&attrs, "bogus").unwrap_err().to_string();
        assert!(
            err.starts_with("process.selinuxLabel: \"bogus\": set the label"),
            "{err}"
        );
        assert!(err.contains("Invalid argument"), "{err}");
    }

    #[test]
    fn keyring_is_joined_under_the_label_then_it_is_cleared() {
        let attrs = FakeAttrs::default();
        let seen = with_key_label(&attrs, LABEL, || attrs.writes.borrow().len()).unwrap();
        assert_eq!(seen, 1, "the label was set before the join");
        let writes = attrs.writes.borrow();
        assert_eq!(writes[0], ("keycreate".to_string(), LABEL.to_string()));
        assert_eq!(writes[1], ("keycreate".to_string(), String::new()));
    }

    #[test]
    fn a_refused_key_label_stops_the_join() {
        let attrs = FakeAttrs {
            refuse: vec![("keycreate", libc::EACCES)],
            ..FakeAttrs::default()
        };
        let mut joined = false;
        let err = with_key_label(&attrs, "x_t", || joined = true).unwrap_err();
        assert!(!joined);
        assert!(err.to_string().contains("session keyring"), "{err}");
    }
}
