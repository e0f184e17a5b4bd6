//! Time namespaces: `linux.timeOffsets` for the monotonic and boottime
//! clocks.
//!
//! Offsets can only be written while no process is in the namespace, so
//! the init unshares it (which only changes the namespace of its future
//! children), writes its own /proc/self/timens_offsets, and enters it with
//! the execve of the container process (the kernel moves an exec'ing
//! process into its namespace-for-children).
//!
//! The write goes through a procfs keel verified (procfs.rs), not the
//! path: the init's "/proc" is the host's only while it has not joined a
//! mount namespace, and one it joined (another container's) may have put
//! anything there.

use crate::procfs::{ProcError, ProcRoot};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

#[derive(Debug, thiserror::Error)]
pub enum TimensError {
    #[error("linux.namespaces: unshare the time namespace: {0}")]
    Unshare(nix::Error),
    #[error("linux.timeOffsets: write {0}")]
    Offsets(ProcError),
}

const CLOCKS: [&str; 2] = ["monotonic", "boottime"];

/// Problems of `linux.timeOffsets`, as (JSON path, message).
pub fn validate(spec: &Spec) -> Vec<(String, String)> {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let Some(offsets) = offsets.filter(|o| !o.is_empty()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !crate::namespaces::creates(spec, LinuxNamespaceType::Time) {
        out.push((
            "linux.timeOffsets".to_string(),
            "needs a new time namespace in linux.namespaces".to_string(),
        ));
    }
    let mut clocks: Vec<_> = offsets.keys().collect();
    clocks.sort();
    for clock in clocks {
        let path = format!("linux.timeOffsets.{clock}");
        if !CLOCKS.contains(&clock.as_str()) {
            out.push((
                path,
                "unknown clock (expected monotonic or boottime)".into(),
            ));
        } else if offsets[clock].nanosecs().unwrap_or(0) >= 1_000_000_000 {
            out.push((
                format!("{path}.nanosecs"),
                "must be below 1000000000".into(),
            ));
        }
    }
    out
}

/// The text of timens_offsets: one "clock secs nanosecs" line per clock.
pub fn offsets_text(spec: &Spec) -> String {
    let offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().clone());
    let mut lines: Vec<String> = offsets
        .unwrap_or_default()
        .iter()
        .map(|(clock, o)| {
            let (secs, nanos) = (o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0));
            format!("{clock} {secs} {nanos}\n")
        })
        .collect();
    lines.sort();
    lines.concat()
}

/// Make the time namespace the container process will exec into, with
/// the configured offsets.
pub fn unshare(spec: &Spec) -> Result<(), TimensError> {
    // CLONE_NEWTIME has no constant in nix's CloneFlags.
    let flags = nix::sched::CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    nix::sched::unshare(flags).map_err(TimensError::Unshare)?;
    let text = offsets_text(spec);
    if text.is_empty() {
        return Ok(());
    }
    let proc = ProcRoot::open().map_err(TimensError::Offsets)?;
    write_offsets(&proc, &text)
}

fn write_offsets(proc: &ProcRoot, text: &str) -> Result<(), TimensError> {
    proc.write_self("timens_offsets", text)
        .map_err(TimensError::Offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(linux: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "linux": linux})).unwrap()
    }

    #[test]
    fn offsets_are_checked_and_written_per_clock() {
        let s = spec(serde_json::json!({
            "namespaces": [{"type": "time"}, {"type": "mount"}],
            "timeOffsets": {"boottime": {"secs": 86400}, "monotonic": {"secs": -5, "nanosecs": 7}}
        }));
        assert!(validate(&s).is_empty());
        assert_eq!(offsets_text(&s), "boottime 86400 0\nmonotonic -5 7\n");
        let s = spec(serde_json::json!({
            "namespaces": [{"type": "mount"}],
            "timeOffsets": {"realtime": {"secs": 1}, "boottime": {"nanosecs": 1000000000u32}}
        }));
        let paths: Vec<String> = validate(&s).into_iter().map(|p| p.0).collect();
        assert_eq!(
            paths,
            [
                "linux.timeOffsets",
                "linux.timeOffsets.boottime.nanosecs",
                "linux.timeOffsets.realtime"
            ]
        );
    }

    #[test]
    fn offsets_are_never_written_off_procfs() {
        use crate::procfs::planted::Planted;
        let planted = Planted::new();
        planted.link("timens_offsets");
        let err = write_offsets(&planted.root(), "boottime 1 0\n").unwrap_err();
        assert!(err.to_string().contains("timens_offsets"), "{err}");
        assert!(planted.decoy_untouched());
        let planted = Planted::new();
        planted.file("timens_offsets");
        let err = write_offsets(&planted.root(), "boottime 1 0\n").unwrap_err();
        assert!(
            matches!(err, TimensError::Offsets(ProcError::NotProc { .. })),
            "{err}"
        );
        assert!(planted.file_untouched("timens_offsets"));
    }
}
