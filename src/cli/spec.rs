//! `keel spec`.

pub fn run(_args: &super::SpecArgs) -> anyhow::Result<()> {
    anyhow::bail!("spec: not implemented yet")
}
