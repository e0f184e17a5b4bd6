//! What every input to keel's document parsers must satisfy, shared by the
//! fuzz targets and by `tests/fuzz_regressions.rs`, which replays the
//! committed corpus and crash reproducers under plain `cargo test`.
//!
//! No input may panic, and every rejection must say where: a JSON path for
//! any document that is a JSON object (only a syntax error, or a document
//! that is not an object at all, is about the whole text), on one line.

// Each fuzz target uses one of the two checks.
#![allow(dead_code)]

use keel::config::{self, ConfigError, Problem};
use std::path::Path;

/// Whether `text` is a syntactically valid JSON object, for which every
/// problem can and must be pinned to a path.
fn is_object(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_object())
}

fn check_problems(kind: &str, text: &str, problems: &[Problem]) {
    assert!(
        !problems.is_empty(),
        "{kind}: a rejection without a problem"
    );
    for p in problems {
        let line = p.to_string();
        assert!(!line.contains('\n'), "{kind}: multi-line error {line:?}");
        assert!(
            !p.message.is_empty(),
            "{kind}: empty message at {:?}",
            p.path
        );
        if is_object(text) {
            assert!(!p.path.is_empty(), "{kind}: no JSON path in {line:?}");
        }
    }
}

/// config.json text through the loader `keel create` uses, for a bundle at
/// `bundle` (an existing directory, with or without a rootfs).
pub fn check_config(text: &str, bundle: &Path) {
    match config::from_text(text, bundle.to_path_buf()) {
        Ok(_) => {}
        Err(ConfigError::Invalid(problems)) => check_problems("config", text, &problems),
        Err(other) => panic!("config: unexpected error kind for text input: {other}"),
    }
}

/// An exec process document through the parser `keel exec --process` uses.
pub fn check_process(text: &str) {
    if let Err(problems) = config::parse_process(text) {
        check_problems("process", text, &problems);
    }
}
