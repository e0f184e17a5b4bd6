//! `keel spec`: write a default config.json, as `runc spec` does.

use oci_spec::runtime::Spec;

pub fn run(args: &super::SpecArgs, rootless: bool) -> anyhow::Result<()> {
    let dir = match &args.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir()?,
    };
    let path = dir.join("config.json");
    if path.exists() {
        anyhow::bail!("File {} exists. Remove it first", path.display());
    }
    let mut spec = if rootless {
        Spec::rootless(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    } else {
        Spec::default()
    };
    spec.set_hostname(Some("keel".into()));
    spec.set_version(crate::OCI_VERSION.into());
    // Only bounding, permitted and effective, as runc writes since
    // CVE-2022-29162: inheritable and ambient sets leak capabilities into
    // programs the container execs.
    if let Some(process) = spec.process_mut() {
        let caps = process.capabilities().clone().map(|mut c| {
            c.set_inheritable(None);
            c.set_ambient(None);
            c
        });
        process.set_capabilities(caps);
    }
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    Ok(())
}
