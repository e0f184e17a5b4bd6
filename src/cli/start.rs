//! `keel start`.

pub fn run(_cli: &super::Cli, _id: &str) -> anyhow::Result<()> {
    anyhow::bail!("start: not implemented yet")
}
