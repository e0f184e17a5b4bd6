//! OCI hooks (config.md "POSIX-platform Hooks").
//!
//! INTERFACE CONTRACT (filled in by the hooks work).

use oci_spec::runtime::Hook;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("hooks: not implemented yet")]
    NotImplemented,
}

/// Run `hooks` in order, each with `state_json` on its stdin; stop at the
/// first failure (non-zero exit, signal, timeout, or exec failure).
pub fn run(_kind: HookKind, _hooks: &[Hook], _state_json: &str) -> Result<(), HookError> {
    Err(HookError::NotImplemented)
}

pub fn validate(_hooks: Option<&oci_spec::runtime::Hooks>) -> Vec<(String, String)> {
    Vec::new()
}
