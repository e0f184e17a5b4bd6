//! Checks on `hooks` that can be made before anything is created, so a bad
//! hook fails `create` up front instead of half-way through.

use super::HookKind;
use oci_spec::runtime::{Hook, Hooks};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// (json path, problem) for each problem found, e.g.
/// `("hooks.prestart[0].path", "must be an absolute path")`.
pub fn validate(hooks: Option<&Hooks>) -> Vec<(String, String)> {
    let Some(hooks) = hooks else {
        return Vec::new();
    };
    #[allow(deprecated)] // prestart is deprecated but still part of the spec.
    let lists = [
        (HookKind::Prestart, hooks.prestart()),
        (HookKind::CreateRuntime, hooks.create_runtime()),
        (HookKind::CreateContainer, hooks.create_container()),
        (HookKind::StartContainer, hooks.start_container()),
        (HookKind::Poststart, hooks.poststart()),
        (HookKind::Poststop, hooks.poststop()),
    ];
    let mut problems = Vec::new();
    for (kind, list) in lists {
        for (index, hook) in list.iter().flatten().enumerate() {
            let at = format!("hooks.{}[{index}]", kind.name());
            check_hook(kind, hook, &at, &mut problems);
        }
    }
    problems
}

fn check_hook(kind: HookKind, hook: &Hook, at: &str, problems: &mut Vec<(String, String)>) {
    let path = hook.path();
    if !path.is_absolute() {
        problems.push((format!("{at}.path"), "must be an absolute path".to_string()));
    } else if kind != HookKind::StartContainer {
        // startContainer hooks resolve in the container's mount namespace,
        // which does not exist yet; every other kind resolves in ours.
        if let Err(message) = check_executable(path) {
            problems.push((format!("{at}.path"), message));
        }
    }
    if let Some(secs) = hook.timeout() {
        if secs <= 0 {
            let message = "must be a positive number of seconds".to_string();
            problems.push((format!("{at}.timeout"), message));
        }
    }
}

fn check_executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path:?}: {e}"))?;
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        Ok(())
    } else {
        Err(format!("{path:?} is not an executable file"))
    }
}
