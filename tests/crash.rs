//! A runtime killed in the middle of `create` (an OOM kill, a node
//! shutdown): its half-made container must not outlive it, and what it
//! leaves behind must be something `delete --force` removes.

mod common;

use common::sys::wait_pid_gone;
use common::{is_keel, Fifo, Sandbox, Spawned};

/// Spawn `create` of the sandbox's container with a createRuntime hook
/// that blocks. Returns, once the hook runs, the runtime call, the fifo that
/// releases the hook and the hook's pid.
fn create_blocked_in_hook(sb: &mut Sandbox) -> (Spawned, Fifo, i32) {
    let (mut events, block) = (sb.fifo("events"), sb.fifo("block"));
    // The hook runs on the host while the init waits for it; it saves the
    // state it is given, reports its own pid, then blocks until the test
    // lets it go.
    let shared = sb.shared.display().to_string();
    sb.bundle
        .sh_hook(
            "createRuntime",
            &format!(
                "cat > {shared}/hook-state.json; echo hook $$ > {shared}/events; \
                 read x < {shared}/block"
            ),
        )
        .args(&["true"]);
    let id = sb.id.clone();
    sb.prepare(&id);
    let bundle = sb.bundle.dir.to_str().unwrap().to_string();
    let create = sb.rt.spawn(&["create", "--bundle", &bundle, &id]);
    let line = events.read_line("the createRuntime hook to run");
    let hook = line
        .strip_prefix("hook ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("hook reported {line:?}"));
    (create, block, hook)
}

#[test]
fn a_create_killed_mid_way_leaves_only_what_delete_force_removes() {
    let mut sb = Sandbox::new("crash_mid_create");
    let (create, mut block, hook) = create_blocked_in_hook(&mut sb);
    let init = sb.init_pid_from_hook_state();
    let id = sb.id.clone();

    // SAFETY: kill(2) on our own unreaped child, the runtime.
    assert_eq!(unsafe { libc::kill(create.pid(), libc::SIGKILL) }, 0);
    let (out, _) = create.finish();
    assert_eq!(out.status.code(), None, "create was not killed: {out}");

    // The init dies with the runtime that made it (PDEATHSIG).
    wait_pid_gone(init, "the init of the crashed create");
    // The orphaned hook is ours now (nobody else reaps it, so its pid
    // stays its own); let it finish.
    block.write_line("go");
    wait_pid_gone(hook, "the hook");

    // What is left is the state directory. keel still reports it (runc,
    // which had not written its state file yet, says it does not exist).
    assert!(sb.state_dir(&id).is_dir(), "the crash left no state dir");
    if is_keel() {
        let status = sb.rt.status(&id);
        assert!(
            ["stopped", "creating"].contains(&status.as_str()),
            "status of a crashed create: {status}"
        );
    }
    sb.rt.ok(&["delete", "--force", &id]);
    sb.assert_nothing_left(&id);
}
