//! keel's promise for a config.json it refuses: one line,
//! `config.json: <json path>: <what>`, where an engine looks for it (stderr,
//! and the last line of the `--log` file containerd reads), and nothing of
//! the container left behind.

use super::is_keel;
use super::runtime::Output;
use super::sandbox::Sandbox;
use serde_json::Value;
use std::fs;
use std::path::Path;

impl Sandbox {
    /// Save the config and create `id`: it must fail on config.json's field
    /// `path` (as keel spells it: `process.args[0]`) with an error that
    /// mentions each of `what` after the path, and leave nothing (as
    /// `create_fails_cleanly`). Returns the call for the test's own checks.
    pub fn create_fails_with_config_error(
        &mut self,
        id: &str,
        path: &str,
        what: &[&str],
    ) -> Output {
        self.prepare(id);
        self.create_as_is_fails_with_config_error(id, path, what)
    }

    /// `create_fails_with_config_error` with config.json as the test left it
    /// on disk (damaged or removed after `prepare`).
    pub fn create_as_is_fails_with_config_error(
        &self,
        id: &str,
        path: &str,
        what: &[&str],
    ) -> Output {
        self.track(id);
        let log = self.dir.join(format!("{id}.log"));
        let log_arg = log.to_str().unwrap();
        let bundle = self.bundle.dir.to_str().unwrap();
        // Global flags first: runc takes them only before the subcommand.
        let args = ["--log", log_arg, "--log-format", "json"];
        let out = self
            .rt
            .run(&[&args[..], &["create", "--bundle", bundle, id]].concat());
        out.assert_failed();
        assert_config_error(&out, Some(&log), path, what);
        self.assert_nothing_left(id);
        out
    }
}

/// The message of a failed call (keel only, as `assert_keel_error`): stderr
/// is one line, `config.json: PATH: ` and then text mentioning each of
/// `what`. With `log` (the call's `--log FILE --log-format json`), stderr is
/// the bare message and the file's last line carries the same one; without,
/// stderr is the logrus text line holding it. Returns the message, for a
/// test's own checks, when it was checked.
pub fn assert_config_error(
    out: &Output,
    log: Option<&Path>,
    path: &str,
    what: &[&str],
) -> Option<String> {
    if !is_keel() {
        return None;
    }
    let line = out.stderr.trim_end_matches('\n');
    assert!(
        !line.is_empty() && !line.contains('\n'),
        "want exactly one error line: {out}"
    );
    let msg = match log {
        Some(log) => {
            let msg = last_json_log_msg(log);
            assert_eq!(msg, line, "the log's last line and stderr differ: {out}");
            msg
        }
        None => text_log_msg(line).unwrap_or_else(|| panic!("not a logrus error line: {out}")),
    };
    let prefix = format!("config.json: {path}: ");
    let rest = msg
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("error does not start with {prefix:?}: {out}"));
    for part in what {
        assert!(rest.contains(part), "error does not say {part:?}: {out}");
    }
    Some(msg)
}

/// The `msg` of the last line of a JSON log file, which must be an error.
fn last_json_log_msg(log: &Path) -> String {
    let text = fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("read the runtime's log {}: {e}", log.display()));
    let last = text.lines().last().unwrap_or_default();
    let entry: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last log line is not JSON ({e}): {text:?}"));
    assert_eq!(entry["level"], "error", "last log line: {last}");
    let msg = entry["msg"].as_str();
    msg.unwrap_or_else(|| panic!("no msg in the last log line: {last}"))
        .to_string()
}

/// The message of a text-format error line, `time="…" level=error msg="…"`
/// (the message JSON-quoted).
fn text_log_msg(line: &str) -> Option<String> {
    let (_, quoted) = line.split_once(" level=error msg=")?;
    serde_json::from_str(quoted).ok()
}
