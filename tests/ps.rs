//! `ps`: keel's own table must be byte for byte what procps's `ps -ef`
//! prints for the container's processes, and ps arguments must still go to
//! procps.
//!
//! Values move while the test looks: a process's C (lifetime CPU share)
//! falls as it sleeps, and one that is still starting changes more. So the
//! real `ps` runs before and after keel: keel's line must equal one of
//! them, with C between theirs. A process whose two `ps` lines differ in
//! more than C was changing: the comparison is taken again.

mod common;

use common::tty::exec_with_pty;
use common::{Sandbox, TIMEOUT};
use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

/// The header and the lines of the real `ps ARGS` whose PID (column
/// `pid_col`) is one of `pids`, by pid. Run as keel runs it: output to a
/// pipe, no COLUMNS to narrow it.
fn real_ps(args: &[&str], pid_col: usize, pids: &[i32]) -> (String, HashMap<i32, String>) {
    let out = Command::new("ps")
        .args(args)
        .env_remove("COLUMNS")
        .output()
        .expect("run ps");
    assert!(out.status.success(), "ps {args:?}: {out:?}");
    // Not lossy: any byte keel gets wrong must show as a difference.
    let text = String::from_utf8(out.stdout).expect("ps prints UTF-8 here");
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let rows = lines
        .filter_map(|l| Some((pid_of(l, pid_col)?, l.to_string())))
        .filter(|(pid, _)| pids.contains(pid))
        .collect();
    (header, rows)
}

fn pid_of(line: &str, col: usize) -> Option<i32> {
    line.split_whitespace().nth(col)?.parse().ok()
}

/// The container's pids, sorted.
fn pids(sb: &Sandbox, id: &str) -> Vec<i32> {
    let out = sb.rt.ok(&["ps", "--format", "json", id]);
    let mut pids: Vec<i32> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    pids.sort_unstable();
    pids
}

/// A `ps -f` line with its C column blanked, and the C value. C is the
/// fourth field, right-aligned in 2 cells.
fn split_c(line: &str) -> (String, u32) {
    let mut fields = 0;
    let mut in_field = false;
    for (i, ch) in line.char_indices() {
        let space = ch == ' ';
        if in_field && space && fields == 4 {
            let c = line[i - 2..i].trim().parse().unwrap_or(u32::MAX);
            return (format!("{}##{}", &line[..i - 2], &line[i..]), c);
        }
        if !in_field && !space {
            fields += 1;
        }
        in_field = !space;
    }
    (line.to_string(), u32::MAX)
}

enum Verdict {
    Same,
    /// The processes were changing between the two `ps` runs.
    Moving(String),
}

/// The CPU ticks `pid` has used, from its stat.
fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Compare one `keel ps` line with the real lines before and after it.
/// Panics on a difference the processes' changes cannot explain: with
/// the same CPU ticks used before and after, C can only have fallen.
fn judge(keel: &str, before: Option<&String>, after: Option<&String>, ran: bool) -> Verdict {
    let (Some(before), Some(after)) = (before, after) else {
        return Verdict::Moving(format!("process of {keel:?} came or went"));
    };
    let (k, kc) = split_c(keel);
    let (b, bc) = split_c(before);
    let (a, ac) = split_c(after);
    let c_ok = bc.min(ac) <= kc && kc <= bc.max(ac);
    if (k == b || k == a) && c_ok {
        return Verdict::Same;
    }
    if b != a || bc != ac || ran {
        return Verdict::Moving(format!("{before:?} became {after:?}"));
    }
    panic!("keel's line differs from ps -ef's:\nkeel: {keel:?}\nps:   {before:?}");
}

/// One round: ps -ef, keel ps, ps -ef. Same means every line of keel's
/// matched; Moving, that some process changed meanwhile (a shell of the
/// container may still be starting a child, or still running its loop).
fn compare_once(sb: &Sandbox, id: &str) -> (Verdict, String) {
    let pids = pids(sb, id);
    let ticks = |pids: &[i32]| -> Vec<Option<u64>> { pids.iter().map(|p| cpu_ticks(*p)).collect() };
    let ticks_before = ticks(&pids);
    let (header, before) = real_ps(&["-ef"], 1, &pids);
    let out = sb.rt.ok(&["ps", id]);
    let (_, after) = real_ps(&["-ef"], 1, &pids);
    let ticks_after = ticks(&pids);
    if self::pids(sb, id) != pids {
        return (Verdict::Moving("processes came or went".into()), out.stdout);
    }
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some(header.as_str()), "header: {out}");
    let mut shown = Vec::new();
    for line in lines {
        let pid = pid_of(line, 1).unwrap_or_else(|| panic!("no pid in {line:?}: {out}"));
        shown.push(pid);
        let i = pids.iter().position(|p| *p == pid);
        let ran = i.is_none_or(|i| ticks_before[i] != ticks_after[i]);
        if let Verdict::Moving(why) = judge(line, before.get(&pid), after.get(&pid), ran) {
            return (Verdict::Moving(why), out.stdout);
        }
    }
    assert_eq!(
        shown, pids,
        "keel's rows, in /proc's (ascending) order: {out}"
    );
    assert!(out.stdout.ends_with('\n'), "{out}");
    (Verdict::Same, out.stdout)
}

/// Compare until a round finds every process settled and each of
/// `wanted` in keel's table; returns that table.
fn assert_table_matches_ps(sb: &Sandbox, id: &str, wanted: &[String]) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (verdict, table) = compare_once(sb, id);
        let missing = wanted.iter().find(|w| !table.contains(w.as_str()));
        match (verdict, missing) {
            (Verdict::Same, None) => return table,
            (Verdict::Moving(why), _) if Instant::now() > deadline => {
                panic!("the processes never settled: {why}")
            }
            (Verdict::Same, Some(w)) if Instant::now() > deadline => {
                panic!("{w:?} never showed in keel's table:\n{table}")
            }
            _ => {}
        }
    }
}

/// A uid whose host user name is longer than the UID column, if any.
fn long_named_uid() -> Option<(u32, String)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let uid = f.get(2)?.parse().ok()?;
        (f[0].len() > 8 && f[0].len() < 32).then(|| (uid, f[0].to_string()))
    })
}

/// `exec -d -u UID` of `sleep 1000` in `id`, adopted by the sandbox.
fn exec_as(sb: &Sandbox, id: &str, uid: u32) {
    let user = format!("{uid}:{uid}");
    sb.exec_detached(&["-u", &user], id, &["sleep", "1000"]);
}

/// A started container whose init sh has background processes: one with
/// a long argument list ending in `odd` (bytes ps must escape, if any), one
/// that used some CPU (a C above 0) before it became `sleep 1003`.
fn busy_container(sb: &mut Sandbox, odd: &str) -> String {
    let mut out = sb.fifo("out");
    sb.bundle.sh(&format!(
        "sleep 1000 & \
         sh -c 'sleep 1001; :' many $(seq 1 400) \"{odd}\" & \
         sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1003' & \
         echo ready > /shared/out; wait"
    ));
    let id = sb.id.clone();
    sb.create_and_start(&id);
    assert_eq!(out.read_line("the background processes"), "ready");
    id
}

/// Bytes that make keel load the locale's character tables, as `ps` has.
const ODD: &str = "\u{e9}\u{4e2d}\t\u{85}x";

#[test]
fn the_table_is_what_ps_ef_prints_for_the_containers_processes() {
    let mut sb = Sandbox::new("ps_table");
    let id = busy_container(&mut sb, ODD);
    exec_as(&sb, &id, 1000);
    // No host user has this uid: the column shows the number.
    exec_as(&sb, &id, 123456);
    let mut wanted: Vec<String> = [
        "sleep 1000\n",
        "sleep 1001\n",
        "sleep 1003\n",
        "many 1 2 3 ",
        "123456 ",
    ]
    .map(String::from)
    .into();
    // A user name too long for the column is cut, with a '+'.
    if let Some((uid, name)) = long_named_uid() {
        exec_as(&sb, &id, uid);
        wanted.push(format!("{}+ ", &name[..7]));
    }
    // A process with a terminal (the container's own pts).
    let (_, _master) = exec_with_pty(&sb, &id, &["sleep", "1002"]);
    wanted.push("sleep 1002\n".into());
    assert_table_matches_ps(&sb, &id, &wanted);
}

#[test]
fn a_container_of_plain_ascii_gets_the_same_table() {
    // keel leaves the locale unloaded then: the bytes must not change.
    let mut sb = Sandbox::new("ps_plain");
    let id = busy_container(&mut sb, "plain");
    let wanted = ["sleep 1003\n", "many 1 2 3 ", " plain\n"].map(String::from);
    assert_table_matches_ps(&sb, &id, &wanted);
}

#[test]
fn ps_arguments_still_go_to_procps() {
    let mut sb = Sandbox::new("ps_args");
    let id = busy_container(&mut sb, ODD);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let pids = pids(&sb, &id);
        let (header, before) = real_ps(&["-e", "-o", "pid,comm"], 0, &pids);
        let out = sb.rt.ok(&["ps", &id, "--", "-e", "-o", "pid,comm"]);
        let (_, after) = real_ps(&["-e", "-o", "pid,comm"], 0, &pids);
        let mut lines = out.stdout.lines();
        // Only procps words the header so.
        assert_eq!(lines.next(), Some(header.as_str()), "{out}");
        assert!(header.trim_start().starts_with("PID COMMAND"), "{header:?}");
        let rows: Vec<&str> = lines.collect();
        let want = |rows: &HashMap<i32, String>| -> Vec<String> {
            pids.iter().filter_map(|p| rows.get(p).cloned()).collect()
        };
        let settled = pids == self::pids(&sb, &id);
        if settled && (rows == want(&before) || rows == want(&after)) {
            assert_eq!(rows.len(), pids.len(), "{out}");
            return;
        }
        // A background shell may still be turning into its sleep.
        assert!(
            (!settled || before != after) && Instant::now() < deadline,
            "{out}"
        );
    }
}
