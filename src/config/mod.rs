//! Loading a bundle's `config.json`, with errors that name the JSON path.

mod compat;
mod process;
mod validate;

use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

pub use process::parse_process;
pub use validate::validate;

/// A validated bundle: the spec plus the paths it resolves to.
pub struct Bundle {
    /// Absolute, canonical bundle directory.
    pub dir: PathBuf,
    /// Absolute, canonical root filesystem (root.path resolved in `dir`).
    pub rootfs: PathBuf,
    pub spec: Spec,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bundle {path:?}: {source}")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config.json: open {path:?}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// One or more problems, each `config.json: <json path>: <what>`.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// A problem at one JSON path of config.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (path, message) = (Escaped(&self.path), Escaped(&self.message));
        if self.path.is_empty() {
            write!(f, "config.json: {message}")
        } else {
            write!(f, "config.json: {path}: {message}")
        }
    }
}

/// Text from the document (a map key in a path, a value in a message) with
/// control characters escaped: a key holding a newline must not split the
/// one-line error an engine shows, nor a terminal escape reach its log.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Load and validate `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Bundle, ConfigError> {
    let dir = bundle
        .canonicalize()
        .map_err(|source| ConfigError::Bundle {
            path: bundle.to_path_buf(),
            source,
        })?;
    let file = dir.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
        path: file.clone(),
        source,
    })?;
    from_text(&text, dir)
}

/// Parse and validate config.json text for the bundle at `dir` (absolute):
/// everything `load` does after reading the file. The fuzz targets drive
/// this, so no input may make it panic.
pub fn from_text(text: &str, dir: PathBuf) -> Result<Bundle, ConfigError> {
    let spec = parse(text).map_err(|p| ConfigError::Invalid(vec![p]))?;
    let rootfs =
        validate::resolve_rootfs(&spec, &dir).map_err(|p| ConfigError::Invalid(vec![p]))?;
    let problems = validate(&spec);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(Bundle { dir, rootfs, spec })
}

/// Extra checks when the rootfs is entered with MS_MOVE + chroot.
pub fn check_no_pivot(spec: &Spec) -> Result<(), ConfigError> {
    let problems: Vec<Problem> = crate::rootfs::validate_no_pivot(spec)
        .into_iter()
        .map(|(path, message)| Problem::new(path, message))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// Parse config.json text, naming the JSON path of the first bad value.
pub fn parse(text: &str) -> Result<Spec, Problem> {
    parse_as(text)
}

/// Parse any runtime-spec JSON document (config.json, a process document,
/// a resources document) the same way.
pub fn parse_as<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Problem> {
    // The fixed document goes back through the text deserializer rather than
    // serde_json::Value's: one copy of the Spec deserializer in the binary
    // instead of two (together 0.7 MB of its 4 MB of code).
    let fixed;
    let text = if compat::needs_fix(text) {
        let mut doc: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Problem::new("", describe_serde_error("", &e.to_string())))?;
        compat::fix(&mut doc);
        fixed = doc.to_string();
        fixed.as_str()
    } else {
        text
    };
    let de = &mut serde_json::Deserializer::from_str(text);
    let result = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        (path, e.into_inner().to_string())
    });
    result.map_err(|(path, raw)| {
        let path = if path == "." { String::new() } else { path };
        let path = name_field(path, &raw);
        let message = describe_serde_error(&path, &raw);
        Problem::new(path, message)
    })
}

/// serde reports a missing or repeated field at the object that lacks or
/// repeats it; the field itself is the path a user needs.
fn name_field(path: String, raw: &str) -> String {
    let field = ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| raw.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match field {
        Some(f) if path.is_empty() => f.to_string(),
        Some(f) => format!("{path}.{f}"),
        None => path,
    }
}

/// Turn serde's wording into a short statement of what was wrong.
fn describe_serde_error(path: &str, raw: &str) -> String {
    let raw = match raw.rfind(" at line ") {
        Some(i) => &raw[..i],
        None => raw,
    };
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        let value = value.trim_end_matches('`');
        let what = if path.ends_with(".type") && path.contains("namespaces[") {
            "namespace"
        } else if path.contains("rlimits[") {
            "rlimit type"
        } else {
            "value"
        };
        let expected = expected.replace('`', "");
        return format!("unknown {what} {value:?} (expected {expected})");
    }
    if let Some(rest) = raw.strip_prefix("no variant for ") {
        let name = rest.split(" (").next().unwrap_or(rest);
        return format!("unknown capability {name:?}");
    }
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_namespace_names_path_and_value() {
        let text = r#"{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"pdi"}]}}"#;
        let p = parse(text).unwrap_err();
        assert_eq!(p.path, "linux.namespaces[2].type");
        assert!(
            p.to_string()
                .starts_with("config.json: linux.namespaces[2].type: unknown namespace \"pdi\""),
            "{p}"
        );
    }

    #[test]
    fn bad_capability_names_path_and_value() {
        let text = r#"{"ociVersion":"1.0.0","process":{"cwd":"/","args":["sh"],"capabilities":{"bounding":["CAP_KILL","CAP_FOO"]}}}"#;
        let p = parse(text).unwrap_err();
        assert_eq!(p.path, "process.capabilities.bounding[1]");
        assert!(p.message.contains("CAP_FOO"), "{p}");
    }

    #[test]
    fn wrong_type_names_path() {
        let p = parse(r#"{"ociVersion":"1.0.0","hostname":7}"#).unwrap_err();
        assert_eq!(p.path, "hostname");
        assert!(!p.message.contains("line"), "{p}");
    }

    #[test]
    fn missing_and_repeated_fields_are_named() {
        let p = parse(r#"{"ociVersion":"1","process":{"cwd":"/"}}"#).unwrap_err();
        assert_eq!(p.path, "process.user", "{p}");
        let p = parse(r#"{"ociVersion":"1","ociVersion":"1"}"#).unwrap_err();
        assert_eq!(p.path, "ociVersion", "{p}");
    }

    #[test]
    fn engine_configs_parse() {
        for name in ["podman", "containerd", "docker"] {
            let path = format!(
                "{}/tests/fixtures/{name}-create-config.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap();
            parse(&text).unwrap_or_else(|p| panic!("{path}: {p}"));
        }
    }

    #[test]
    fn spec_scheduler_flag_names_parse() {
        let text = r#"{"ociVersion":"1.0.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_DEADLINE","runtime":1,"deadline":2,
            "flags":["SCHED_FLAG_RESET_ON_FORK","SCHED_FLAG_DL_OVERRUN","SCHED_FLAG_RECLAIM"]}}}"#;
        let spec = parse(text).unwrap();
        let flags = spec
            .process()
            .as_ref()
            .unwrap()
            .scheduler()
            .as_ref()
            .unwrap()
            .flags();
        assert_eq!(flags.as_ref().unwrap().len(), 3);
        let p = parse(r#"{"ociVersion":"1.0.0","hostname":7,"x":"SCHED_FLAG_DL_OVERRUN"}"#)
            .unwrap_err();
        assert_eq!(p.path, "hostname");
    }
}
