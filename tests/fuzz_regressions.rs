//! The fuzz corpus and every crash reproducer, replayed under plain
//! `cargo test`: each input goes through the same entry points as the fuzz
//! targets (`fuzz/invariants.rs`), which assert that nothing panics and
//! that every rejection names a JSON path on one line.

#[path = "../fuzz/invariants.rs"]
mod invariants;

use std::fs;
use std::path::{Path, PathBuf};

const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");

/// Every file of the committed corpus and regressions of `target`.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = Path::new(FUZZ).join(kind).join(target);
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no inputs for {target}");
    files
}

/// Run `check` on each input, naming the file of any that panics.
fn replay(target: &str, check: impl Fn(&str)) {
    for path in inputs(target) {
        let data = fs::read(&path).unwrap();
        // The targets feed only UTF-8 (keel reads files as strings).
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(text)));
        assert!(result.is_ok(), "{path:?} fails the {target} invariants");
    }
}

#[test]
fn config_corpus_and_reproducers() {
    let bundle = std::env::temp_dir().join(format!("keel-fuzz-regress-{}", std::process::id()));
    fs::create_dir_all(bundle.join("rootfs")).unwrap();
    replay("config", |text| invariants::check_config(text, &bundle));
    fs::remove_dir_all(&bundle).unwrap();
}

#[test]
fn process_corpus_and_reproducers() {
    replay("process", invariants::check_process);
}
