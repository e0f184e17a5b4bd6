//! AppArmor: the profile a process switches to at its execve, requested
//! as libapparmor's aa_change_onexec (and runc) request it.

use super::attr::{AttrError, Attrs};
use super::LsmError;

/// Kernels since 5.8 give each LSM its own attribute directory; older ones
/// only have the shared `attr/exec`, which AppArmor owns when it is the
/// major LSM. runc prefers the former and falls back the same way.
const FILES: [&str; 2] = ["apparmor/exec", "exec"];

/// Have the next execve enter `profile`. Until then the process keeps its
/// current (unconfined) profile, so keel's own remaining steps are not
/// subject to it.
pub fn change_onexec(attrs: &dyn Attrs, profile: &str) -> Result<(), LsmError> {
    let command = format!("exec {profile}");
    let mut result = attrs.write(FILES[0], command.as_bytes());
    if result.as_ref().is_err_and(AttrError::is_missing_file) {
        result = attrs.write(FILES[1], command.as_bytes());
    }
    result.map_err(|source| match source.write_errno() {
        // What AppArmor answers for a name it has no profile for.
        Some(libc::ENOENT) => LsmError::ProfileNotLoaded(profile.to_string()),
        _ => LsmError::AppArmor {
            profile: profile.to_string(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::attr::fake::FakeAttrs;
    use super::*;

    #[test]
    fn the_per_lsm_file_is_preferred() {
        let attrs = FakeAttrs::default();
        change_onexec(&attrs, "keel-test").unwrap();
        let writes = attrs.writes.borrow();
        assert_eq!(
            *writes,
            [("apparmor/exec".to_string(), "exec keel-test".to_string())]
        );
    }

    #[test]
    fn older_kernels_get_the_shared_file() {
        let attrs = FakeAttrs {
            missing: vec!["apparmor/exec"],
            ..FakeAttrs::default()
        };
        change_onexec(&attrs, "docker-default").unwrap();
        let writes = attrs.writes.borrow();
        assert_eq!(
            *writes,
            [("exec".to_string(), "exec docker-default".to_string())]
        );
    }

    #[test]
    fn a_profile_that_is_not_loaded_is_named() {
        let attrs = FakeAttrs {
            refuse: vec![("apparmor/exec", libc::ENOENT)],
            ..FakeAttrs::default()
        };
        let err = change_onexec(&attrs, "nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "process.apparmorProfile: \"nope\": no AppArmor profile of that name is loaded \
             (load it with apparmor_parser)"
        );
    }

    #[test]
    fn other_refusals_keep_their_cause() {
        let attrs = FakeAttrs {
            refuse: vec![("apparmor/exec", libc::EPERM)],
            ..FakeAttrs::default()
        };
        let err = change_onexec(&attrs, "p").unwrap_err().to_string();
        assert!(err.starts_with("process.apparmorProfile: \"p\": "), "{err}");
        assert!(err.contains("attr/apparmor/exec"), "{err}");
        assert!(err.contains("not permitted"), "{err}");
    }
}
