//! Cgroups a test has the runtime make outside the per-container
//! /keel-test/ID that the sandbox removes itself.

/// Cgroup paths (absolute, as `linux.cgroupsPath` gives them) removed on
/// drop, in the order added, wherever still there and empty: add a
/// container's directory before its parent. Declared before the sandbox,
/// the guard drops after it, once the containers are deleted.
#[derive(Default)]
pub struct ExtraCgroups(Vec<String>);

impl ExtraCgroups {
    /// Remove `path` too. Only keel's own names: never the machine's
    /// process_api, nor anything a test did not make.
    pub fn add(&mut self, path: impl Into<String>) -> &mut Self {
        let path = path.into();
        assert!(
            path.starts_with("/keel") && !path.contains("process_api"),
            "not a test's cgroup: {path}"
        );
        self.0.push(path);
        self
    }
}

impl Drop for ExtraCgroups {
    fn drop(&mut self) {
        for path in &self.0 {
            super::sandbox::remove_cgroup(path.trim_start_matches('/'));
        }
    }
}
