//! `keel ps`: the container's processes, as runc prints them: `--format
//! json` is a JSON array of pids (containerd parses it); the table is what
//! `ps -ef` prints for them, made by keel itself (`crate::ps_table`), or,
//! given ps arguments, the lines of that `ps` whose PID is the container's.

use anyhow::{bail, Context};
use std::io::Write;

pub fn run(cli: &super::Cli, args: &super::PsArgs) -> anyhow::Result<()> {
    crate::state::validate_id(&args.id)?;
    let st = crate::state::read(&cli.root.join(&args.id))?;
    let pids = crate::lifecycle::cgroup_of(&st)?.pids()?;
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        // runc encodes no processes as null, and containerd parses it.
        let text = if pids.is_empty() {
            "null".into()
        } else {
            serde_json::to_string(&pids)?
        };
        writeln!(out, "{text}")?;
        return Ok(());
    }
    if args.ps_args.is_empty() {
        out.write_all(&crate::ps_table::table(&pids)?)?;
        return Ok(());
    }
    let ps_args: Vec<&str> = args.ps_args.iter().map(String::as_str).collect();
    let output = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    write!(out, "{}", filter_table(&text, &pids)?)?;
    Ok(())
}

/// The header and the lines whose PID column holds one of `pids`.
fn filter_table(text: &str, pids: &[i32]) -> anyhow::Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    let mut table = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(column).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .with_context(|| format!("unable to parse pid {field:?}"))?;
        if pids.contains(&pid) {
            table.push_str(line);
            table.push('\n');
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_header_and_the_containers_lines() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 sh\n";
        let table = super::filter_table(text, &[42]).unwrap();
        assert_eq!(table, "UID PID PPID CMD\nroot 42 1 sleep\n");
    }
}
