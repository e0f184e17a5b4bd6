//! Spellings oci-spec gets wrong. oci-spec 0.10 names two scheduler flags
//! `SCHED_RESET_ON_FORK` and `SCHED_FLAG_D_L_OVERRUN` where runtime-spec
//! says `SCHED_FLAG_RESET_ON_FORK` and `SCHED_FLAG_DL_OVERRUN`, so a correct
//! config would not parse; the spec's names are mapped to the crate's
//! before deserialising.

use serde_json::Value;

const RENAMES: [(&str, &str); 2] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

/// Whether `text` may need `fix`: a cheap test that keeps the common case
/// to a single parse.
pub fn needs_fix(text: &str) -> bool {
    RENAMES.iter().any(|(spec, _)| text.contains(spec))
}

/// Rename the flags in `process.scheduler.flags` (config.json) or
/// `scheduler.flags` (a process document).
pub fn fix(doc: &mut Value) {
    for pointer in ["/process/scheduler/flags", "/scheduler/flags"] {
        let Some(Value::Array(flags)) = doc.pointer_mut(pointer) else {
            continue;
        };
        for flag in flags.iter_mut() {
            if let Some((_, ours)) = RENAMES.iter().find(|(spec, _)| flag == spec) {
                *flag = Value::String(ours.to_string());
            }
        }
    }
}
