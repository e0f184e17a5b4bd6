//! `keel state`: the OCI state of a container, printed as runc prints it.

use crate::state::{self, State, Status};
use serde::Serialize;
use std::path::Path;

/// runc's field order; `owner` is empty in `state` and named in `list`.
#[derive(Serialize)]
pub struct Report<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
    pub annotations: &'a std::collections::HashMap<String, String>,
    pub owner: String,
}

pub fn report<'a>(st: &'a State, dir: &Path, owner: String) -> Report<'a> {
    let status = st.status(dir);
    Report {
        oci_version: &st.oci_version,
        id: &st.id,
        pid: if status == Status::Stopped { 0 } else { st.pid },
        status: status.as_str(),
        bundle: &st.bundle,
        rootfs: &st.rootfs,
        created: &st.created,
        annotations: &st.annotations,
        owner,
    }
}

pub fn run(cli: &super::Cli, id: &str) -> anyhow::Result<()> {
    state::validate_id(id)?;
    let dir = cli.root.join(id);
    let st = state::read(&dir)?;
    let text = serde_json::to_string_pretty(&report(&st, &dir, String::new()))?;
    print!("{text}");
    Ok(())
}
