//! `keel list`: every container under --root, as a table or JSON.

use super::state::{report, Report};
use crate::state;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

pub fn run(cli: &super::Cli, args: &super::ListArgs) -> anyhow::Result<()> {
    let mut entries: Vec<_> = match std::fs::read_dir(&cli.root) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => anyhow::bail!("{:?}: {e}", cli.root),
    };
    entries.sort_by_key(|e| e.file_name());
    let mut states = Vec::new();
    // One passwd lookup per owner, not per container.
    let mut owners: HashMap<u32, String> = HashMap::new();
    for entry in &entries {
        let dir = entry.path();
        match state::read(&dir) {
            Ok(st) => {
                let uid = entry.metadata().map(|m| m.uid()).unwrap_or(0);
                let owner = owners.entry(uid).or_insert_with(|| owner_name(uid));
                states.push((st, dir, owner.clone()));
            }
            // A container being created has no state yet; others are reported.
            Err(state::StateError::NotFound(_)) => {}
            Err(e) => eprintln!("{e}"),
        }
    }
    let reports: Vec<Report> = states
        .iter()
        .map(|(st, dir, owner)| report(st, dir, owner.clone()))
        .collect();
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for r in &reports {
            writeln!(out, "{}", r.id)?;
        }
    } else if args.format == "json" {
        // runc encodes an empty list as null.
        let text = if reports.is_empty() {
            "null".into()
        } else {
            serde_json::to_string(&reports)?
        };
        writeln!(out, "{text}")?;
    } else {
        write!(out, "{}", table(&reports))?;
    }
    Ok(())
}

fn owner_name(uid: u32) -> String {
    crate::identity::host_user_name(uid).unwrap_or_else(|| format!("#{uid}"))
}

/// Go's tabwriter with minwidth 12, padding 3, as runc configures it: every
/// cell but the last of a line is padded to its column's width.
fn table(reports: &[Report]) -> String {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for r in reports {
        rows.push(vec![
            r.id.to_string(),
            r.pid.to_string(),
            r.status.to_string(),
            r.bundle.display().to_string(),
            r.created.to_string(),
            r.owner.clone(),
        ]);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns - 1)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c < columns - 1 {
                out.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_matches_runc() {
        assert_eq!(
            super::table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}
