//! Concurrent callers, as a busy engine makes them: creates racing for one
//! id, and `state`/`list` reading while containers come and go.

mod common;

use common::sys::PidFd;
use common::{Runtime, Sandbox};
use serde_json::Value;

const RACERS: usize = 6;

#[test]
fn of_concurrent_creates_with_one_id_exactly_one_wins() {
    let mut sb = Sandbox::new("create_race");
    let mut events = sb.fifo("events");
    sb.bundle.sh("echo started > /shared/events");
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    // All are started before any is waited for, so they overlap.
    let calls: Vec<_> = (0..RACERS)
        .map(|_| sb.rt.spawn(&["create", "--bundle", &bundle, &id]))
        .collect();
    let outs: Vec<_> = calls.into_iter().map(|c| c.wait()).collect();

    let winners = outs.iter().filter(|o| o.success()).count();
    let all: Vec<String> = outs.iter().map(ToString::to_string).collect();
    assert_eq!(
        winners,
        1,
        "want one successful create:\n{}",
        all.join("\n")
    );
    for out in outs.iter().filter(|o| !o.success()) {
        out.assert_failed();
        assert!(
            out.stderr.contains(&id) || out.stderr.contains("exists"),
            "a losing create does not say the id exists: {out}"
        );
    }

    // The losers left the winner's container whole: created and startable.
    sb.note_init(&id);
    assert_eq!(sb.rt.status(&id), "created");
    sb.rt.ok(&["start", &id]);
    assert_eq!(events.read_line("the winner to start"), "started");
    sb.reap_init(&id);
    sb.rt.ok(&["delete", &id]);
    // No loser's init lingers either.
    sb.assert_nothing_left(&id);
}

/// Create and `delete --force` each of `ids` in turn, reaping each init
/// (we are its subreaper) so that no zombie is left.
fn churn(rt: &Runtime, bundle: &str, ids: &[String]) {
    for id in ids {
        rt.ok(&["create", "--bundle", bundle, id]);
        let init = PidFd::open(rt.pid(id)).expect("init of a created container");
        rt.ok(&["delete", "--force", id]);
        init.wait_gone(&format!("the deleted {id}'s init"));
    }
}

/// Check one `list --format json`: a JSON array (or null, which runc prints
/// for no containers) of entries that each have an id, a pid and a status.
fn check_list(rt: &Runtime) {
    let out = rt.ok(&["list", "--format", "json"]);
    let list: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("list printed invalid JSON ({e}): {out}"));
    let entries = match &list {
        Value::Null => return,
        Value::Array(entries) => entries,
        _ => panic!("list did not print an array: {out}"),
    };
    for entry in entries {
        let complete = entry["id"].is_string()
            && entry["pid"].is_i64()
            && entry["status"].as_str().is_some_and(|s| !s.is_empty());
        assert!(complete, "incomplete list entry {entry}: {out}");
    }
}

#[test]
fn state_and_list_stay_whole_while_containers_come_and_go() {
    let mut sb = Sandbox::new("read_while_churning");
    sb.bundle.args(&["sleep", "1000"]);
    let steady = sb.other_id("steady");
    sb.create(&steady);
    // Tracked up front, so cleanup finds them if the test fails midway.
    let ids: Vec<String> = (0..10).map(|i| sb.other_id(&format!("c{i}"))).collect();
    for id in &ids {
        sb.prepare(id);
    }
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let rt = &sb.rt;
    std::thread::scope(|s| {
        let churner = s.spawn(|| churn(rt, &bundle, &ids));
        for _ in 0..200 {
            let state = rt.state(&steady);
            assert_eq!(state["status"], "created", "state of {steady}: {state}");
            check_list(rt);
        }
        churner.join().expect("create/delete cycles");
    });
    let out = sb.rt.ok(&["list", "--format", "json"]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let listed: Vec<&Value> = list.as_array().unwrap().iter().map(|e| &e["id"]).collect();
    assert_eq!(listed, [&Value::from(steady.as_str())], "{out}");
}

/// `delete --force` racing `op` on a created container: delete always
/// wins in the end, and leaves nothing; `op` succeeds or fails cleanly.
fn delete_racing(test: &str, op: &[&str]) {
    let mut sb = Sandbox::new(test);
    sb.bundle.args(&["sleep", "1000"]);
    for round in 0..4 {
        let id = sb.other_id(&format!("r{round}"));
        sb.create(&id);
        let init = PidFd::open(sb.init_pid(&id)).expect("init of a created container");
        let mut args = op.to_vec();
        args.push(&id);
        let (racer, delete) = (sb.rt.spawn(&args), sb.rt.spawn(&["delete", "--force", &id]));
        let (racer, delete) = (racer.wait(), delete.wait());
        delete.assert_ok();
        assert!(racer.code().is_some(), "{op:?} crashed: {racer}");
        // Nothing half-deleted: the init is gone, and so is all else.
        init.wait_gone(&format!("the deleted {id}'s init"));
        sb.assert_nothing_left(&id);
    }
}

#[test]
fn delete_racing_start_leaves_nothing_half_deleted() {
    delete_racing("delete_vs_start", &["start"]);
}

#[test]
fn delete_racing_kill_leaves_nothing_half_deleted() {
    delete_racing("delete_vs_kill", &["kill"]);
}
