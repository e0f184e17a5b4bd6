//! `keel update`: change a running container's resource limits, with
//! runc's flags or a JSON `linux.resources` document (`-r FILE`, `-` for
//! stdin).

use anyhow::{bail, Context};
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::io::Read;

pub fn run(cli: &super::Cli, args: &super::UpdateArgs) -> anyhow::Result<()> {
    let c = crate::state::open(&cli.root, &args.id)?;
    let st = c.load()?;
    if st.status(&c.dir) == crate::state::Status::Stopped {
        bail!("container not running");
    }
    let resources = match &args.resources {
        Some(path) => read_resources(path)?,
        None => from_flags(args)?,
    };
    crate::lifecycle::cgroup_of(&st)?.update(&resources)?;
    Ok(())
}

fn read_resources(path: &std::path::Path) -> anyhow::Result<LinuxResources> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read resources from stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("-r {}", path.display()))?;
    }
    crate::config::parse_as(&text)
        .map_err(|p| anyhow::anyhow!("{}: {}: {}", path.display(), p.path, p.message))
}

fn from_flags(args: &super::UpdateArgs) -> anyhow::Result<LinuxResources> {
    let mut r = LinuxResources::default();
    let bytes =
        |flag: &str, v: &Option<String>| v.as_deref().map(|v| parse_bytes(flag, v)).transpose();
    let (limit, swap, reservation) = (
        bytes("--memory", &args.memory)?,
        bytes("--memory-swap", &args.memory_swap)?,
        bytes("--memory-reservation", &args.memory_reservation)?,
    );
    if limit.is_some() || swap.is_some() || reservation.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(limit)
            .set_swap(swap)
            .set_reservation(reservation);
        r.set_memory(Some(m));
    }
    let mut cpu = LinuxCpu::default();
    cpu.set_shares(args.cpu_shares)
        .set_quota(args.cpu_quota)
        .set_period(args.cpu_period)
        .set_realtime_period(args.cpu_rt_period)
        .set_realtime_runtime(args.cpu_rt_runtime)
        .set_cpus(args.cpuset_cpus.clone())
        .set_mems(args.cpuset_mems.clone());
    if cpu != LinuxCpu::default() {
        r.set_cpu(Some(cpu));
    }
    if let Some(limit) = args.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    if let Some(weight) = args.blkio_weight {
        let mut b = oci_spec::runtime::LinuxBlockIo::default();
        b.set_weight(Some(weight));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// A byte count as runc takes it: a number with an optional k, m, g or t
/// suffix (powers of 1024, an optional trailing "b"), or -1 for unlimited.
fn parse_bytes(flag: &str, value: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("{flag} {value:?}: expected bytes, e.g. 512m, 1g or -1");
    if value == "-1" {
        return Ok(-1);
    }
    let lower = value.to_ascii_lowercase();
    let trimmed = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 40),
        _ => (trimmed, 0),
    };
    let n: i64 = digits.trim().parse().map_err(|_| bad())?;
    n.checked_mul(1i64 << shift)
        .filter(|v| *v >= 0)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_sizes_parse_like_runc() {
        assert_eq!(parse_bytes("--memory", "1024").unwrap(), 1024);
        assert_eq!(parse_bytes("--memory", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("--memory", "2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("--memory", "-1").unwrap(), -1);
        assert!(parse_bytes("--memory", "lots").is_err());
    }
}
