//! The process document of `keel exec --process`: the runtime-spec
//! `process` object on its own, checked like config.json's.

use super::{parse_as, validate::check_process, Problem};
use oci_spec::runtime::Process;

/// Parse and check a process document. Every problem names its JSON path
/// within the document (`args`, `rlimits[2].hard`); the caller adds the
/// file name. The fuzz targets drive this, so no input may make it panic.
pub fn parse_process(text: &str) -> Result<Process, Vec<Problem>> {
    let process: Process = parse_as(text).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    check_process(&process, "", &mut problems);
    for (path, message) in crate::lsm::validate_process(&process, "") {
        problems.push(Problem::new(path, message));
    }
    if problems.is_empty() {
        Ok(process)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_document_paths() {
        let text = r#"{"user":{"uid":0,"gid":0},"cwd":"rel","args":[]}"#;
        let problems = parse_process(text).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["args", "cwd"]);
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let problems = parse_process(r#"{"cwd":"/","args":["sh"]}"#).unwrap_err();
        assert_eq!(problems[0].path, "user", "{:?}", problems[0]);
    }

    #[test]
    fn attribute_problems_are_named_within_the_document() {
        let doc = r#"{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},
                      "ioPriority":{"class":"IOPRIO_CLASS_BE","priority":9}}"#;
        let problems = parse_process(doc).unwrap_err();
        assert_eq!(problems[0].path, "ioPriority.priority", "{:?}", problems[0]);
    }
}
