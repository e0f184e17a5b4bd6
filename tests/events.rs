//! `events`: the stats document (`--stats`) read against the limits the
//! config set and the processes `ps` lists, the stream of stats and OOM
//! events, which reports an OOM kill as it happens and ends with the
//! container, and runc's errors.
//!
//! The stream's stdout is a fifo the test holds open (see `Fifo`), so each
//! event is read as a line when it comes, with a deadline and no sleep.

mod common;

use common::{is_keel, Fifo, Sandbox, Spawned};
use serde_json::{json, Value};
use std::fs;

const MIB: u64 = 1 << 20;

/// Whether this host has only cgroup2 (the v2 testbed).
fn pure_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `events [extra...] ID` in the background, printing into `sink`.
fn spawn_events(sb: &Sandbox, id: &str, sink: &Fifo, extra: &[&str]) -> Spawned {
    let mut args = vec!["events"];
    args.extend_from_slice(extra);
    args.push(id);
    let mut call = sb.rt.command(&args);
    // The fifo is held open for reading by the test: this open never blocks.
    let out = fs::OpenOptions::new()
        .write(true)
        .open(&sink.path)
        .expect("open the events fifo for writing");
    call.cmd.stdout(out);
    call.spawn()
}

/// Once the container has stopped, the stream ends by itself, successfully.
/// runc 1.1 on a v1 host ends it only when the container's cgroup is
/// removed (its OOM eventfd fires then): for another runtime, delete first.
fn assert_stream_ends(sb: &Sandbox, id: &str, stream: Spawned) {
    sb.wait_exit(id);
    if !is_keel() {
        eprintln!("note: not keel: deleting the container to end the stream");
        sb.rt.ok(&["delete", id]);
    }
    stream.wait().assert_ok();
}

fn parse_event(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON event ({e}): {line}"))
}

#[test]
fn stats_report_usage_and_the_limits_the_config_set() {
    let mut sb = Sandbox::new("events_stats");
    let mut out = sb.fifo("out");
    sb.bundle.set(
        "/linux/resources",
        json!({"memory": {"limit": 64 * MIB, "swap": 96 * MIB}, "pids": {"limit": 50}}),
    );
    sb.bundle
        .sh("sleep 1000 & sleep 1000 & echo ready > /shared/out; wait");
    let id = sb.create_and_start_own();
    assert_eq!(out.read_line("the background sleeps to start"), "ready");

    let got = sb.rt.ok(&["events", "--stats", &id]);
    // One compact document and a newline, as runc's JSON encoder writes.
    assert_eq!(got.stdout.lines().count(), 1, "{got}");
    assert!(got.stdout.ends_with("}\n"), "{got}");
    let prefix = format!(r#"{{"type":"stats","id":"{id}","data":{{"cpu":{{"usage":{{"#);
    assert!(got.stdout.starts_with(&prefix), "{got}");
    let ev = parse_event(got.stdout.trim_end());
    let data = &ev["data"];
    let mut keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "blkio",
            "cpu",
            "cpuset",
            "hugetlb",
            "intel_rdt",
            "memory",
            "network_interfaces",
            "pids"
        ],
        "{got}"
    );

    let memory = &data["memory"];
    assert_eq!(memory["usage"]["limit"], json!(64 * MIB), "{got}");
    assert_eq!(memory["swap"]["limit"], json!(96 * MIB), "{got}");
    assert!(memory["usage"]["usage"].as_u64().unwrap_or(0) > 0, "{got}");
    let raw = memory["raw"].as_object();
    assert!(
        raw.is_some_and(|r| r.len() > 5),
        "memory.stat as raw: {got}"
    );
    assert_eq!(data["pids"]["limit"], json!(50), "{got}");
    let cpu_total = data["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
    assert!(cpu_total > 0, "{got}");
    if !pure_v2() {
        // v1's cpuacct and cpuset; cgroup2 has neither per-cpu usage nor
        // (in runc's reader) cpuset stats.
        assert!(data["cpu"]["usage"]["percpu"].is_array(), "{got}");
        assert!(data["cpuset"]["cpus"].is_array(), "{got}");
    }

    // The shell and its two sleeps: the count ps gives.
    let ps = sb.rt.ok(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&ps.stdout).unwrap_or_else(|e| panic!("{e}: {ps}"));
    assert_eq!(pids.len(), 3, "{ps}");
    assert_eq!(data["pids"]["current"], json!(pids.len()), "{got}");
}

#[test]
fn an_oom_kill_is_reported_as_it_happens_and_the_stream_ends_with_the_container() {
    let mut sb = Sandbox::new("events_oom");
    let (mut out, mut input, mut events) = (sb.fifo("out"), sb.fifo("in"), sb.fifo("events"));
    // No swap to escape to: memory+swap is capped at the same 32 MiB.
    sb.bundle.set(
        "/linux/resources/memory",
        json!({"limit": 32 * MIB, "swap": 32 * MIB}),
    );
    // dd fills (and so touches) a 64 MiB buffer; the shell then exits,
    // which stops the container.
    sb.bundle.sh("read go < /shared/in; \
         dd if=/dev/zero of=/dev/null bs=64M count=1 2> /dev/null; \
         echo \"dd $?\" > /shared/out");
    let id = sb.create_and_start_own();
    let stream = spawn_events(&sb, &id, &events, &["--interval", "1s"]);
    // The first stats event says the stream, OOM watch included, is set up.
    let first = parse_event(&events.read_line("the first stats event"));
    assert_eq!(
        (&first["type"], &first["id"]),
        (&json!("stats"), &json!(id))
    );

    input.write_line("go");
    loop {
        let ev = parse_event(&events.read_line("an oom event"));
        assert_eq!(ev["id"], json!(id), "{ev}");
        if ev["type"] == "oom" {
            assert_eq!(ev, json!({"type": "oom", "id": id}), "no data for oom");
            break;
        }
        assert_eq!(ev["type"], "stats", "{ev}");
    }
    // 128 + SIGKILL: the OOM killer's signal.
    assert_eq!(out.read_line("dd's exit status"), "dd 137");
    assert_stream_ends(&sb, &id, stream);
}

#[test]
fn the_stream_ends_when_the_container_stops() {
    let mut sb = Sandbox::new("events_end");
    let (mut input, mut events) = (sb.fifo("in"), sb.fifo("events"));
    sb.bundle.sh("read line < /shared/in");
    let id = sb.create_and_start_own();
    let stream = spawn_events(&sb, &id, &events, &["--interval", "500ms"]);
    let first = parse_event(&events.read_line("the first stats event"));
    assert_eq!(first["type"], "stats", "{first}");
    input.write_line("stop");
    assert_stream_ends(&sb, &id, stream);
}

#[test]
fn events_of_a_stopped_or_missing_container_fail() {
    let (sb, id) = Sandbox::with_stopped_container("events_stopped");
    let want = format!("container with id {id} is not running");
    for args in [&["events", "--stats", &id][..], &["events", &id][..]] {
        let got = sb.rt.fails(args);
        assert!(got.stderr.contains(&want), "{got}");
    }
    let got = sb.rt.fails(&["events", "--stats", &sb.other_id("missing")]);
    assert!(got.stderr.contains("container does not exist"), "{got}");
}

#[test]
fn a_bad_interval_is_refused() {
    let mut sb = Sandbox::new("events_interval");
    sb.bundle.args(&["sleep", "1000"]);
    let id = sb.create_and_start_own();
    for zero in ["0", "0s", "-1s"] {
        let got = sb.rt.fails(&["events", "--interval", zero, &id]);
        assert!(
            got.stderr
                .contains("duration interval must be greater than 0"),
            "{got}"
        );
    }
    for bad in ["5", "abc", "1x"] {
        let got = sb.rt.fails(&["events", "--interval", bad, &id]);
        // The log line escapes the quotes, in runc's format and keel's.
        let want = format!(r#"invalid value \"{bad}\" for flag"#);
        assert!(got.stderr.contains(&want), "{got}");
    }
    if is_keel() {
        let got = sb.rt.fails(&["events", "--interval", "5", &id]);
        assert!(
            got.stderr
                .contains(r#"time: missing unit in duration \"5\""#),
            "{got}"
        );
    }
}
