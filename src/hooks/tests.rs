use super::*;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use oci_spec::runtime::Hooks;
use serde_json::json;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const PATH_ENV: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("keel-hooks-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `/bin/sh -c script` hook with a minimal PATH.
fn sh(script: &str) -> Hook {
    serde_json::from_value(json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": [PATH_ENV],
    }))
    .unwrap()
}

fn sh_with_timeout(script: &str, timeout: i64) -> Hook {
    let mut hook = sh(script);
    hook.set_timeout(Some(timeout));
    hook
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn kind_names_follow_the_spec() {
    assert_eq!(HookKind::CreateRuntime.name(), "createRuntime");
    assert_eq!(HookKind::StartContainer.to_string(), "startContainer");
    assert_eq!(HookKind::Poststop.name(), "poststop");
}

#[test]
fn hooks_run_in_order() {
    let tmp = TempDir::new();
    let out = tmp.file("order");
    let hooks: Vec<Hook> = (1..=3)
        .map(|i| sh(&format!("echo {i} >> '{}'", out.display())))
        .collect();
    run(HookKind::CreateRuntime, &hooks, "{}").unwrap();
    assert_eq!(read(&out), "1\n2\n3\n");
}

#[test]
fn stdin_receives_the_state_exactly() {
    let tmp = TempDir::new();
    let out = tmp.file("state");
    let state = r#"{"ociVersion":"1.2.1","id":"c1","status":"created","pid":42,"bundle":"/b"}"#;
    run(
        HookKind::Prestart,
        &[sh(&format!("cat > '{}'", out.display()))],
        state,
    )
    .unwrap();
    assert_eq!(read(&out), state);
}

#[test]
fn env_is_exactly_the_given_env() {
    let tmp = TempDir::new();
    let out = tmp.file("environ");
    let mut hook = sh(&format!("cat /proc/$$/environ > '{}'", out.display()));
    hook.set_env(Some(vec!["A=1".into(), "B=x=y".into(), PATH_ENV.into()]));
    run(HookKind::Poststart, &[hook], "{}").unwrap();
    assert_eq!(read(&out), format!("A=1\0B=x=y\0{PATH_ENV}\0"));
}

#[test]
fn env_is_empty_when_absent() {
    let tmp = TempDir::new();
    let out = tmp.file("environ");
    let script = format!("/usr/bin/wc -c < /proc/$$/environ > '{}'", out.display());
    let hook: Hook =
        serde_json::from_value(json!({"path": "/bin/sh", "args": ["sh", "-c", script]})).unwrap();
    run(HookKind::Poststart, &[hook], "{}").unwrap();
    assert_eq!(read(&out).trim(), "0");
}

#[test]
fn args_are_passed_with_args0_as_argv0() {
    let tmp = TempDir::new();
    let out = tmp.file("cmdline");
    let script = format!("tr '\\0' '|' < /proc/$$/cmdline > '{}'", out.display());
    let mut hook = sh(&script);
    hook.set_args(Some(vec![
        "my-hook".into(),
        "-c".into(),
        script.clone(),
        "a b".into(),
    ]));
    run(HookKind::CreateContainer, &[hook], "{}").unwrap();
    assert_eq!(read(&out), format!("my-hook|-c|{script}|a b|"));
}

#[test]
fn argv0_is_the_path_without_args() {
    let hook: Hook = serde_json::from_value(json!({"path": "/bin/false"})).unwrap();
    // /bin/false exits 1 whatever its argv; what matters is that it ran.
    let err = run(HookKind::Poststop, &[hook], "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "poststop hook 0 (/bin/false): exited with status 1"
    );
}

#[test]
fn failing_hook_stops_later_hooks_and_reports_stderr() {
    let tmp = TempDir::new();
    let out = tmp.file("ran");
    let hooks = [
        sh(&format!("echo 0 >> '{}'", out.display())),
        sh("echo progress; echo 'first problem' >&2; echo '  second  ' >&2; exit 3"),
        sh(&format!("echo 2 >> '{}'", out.display())),
    ];
    let err = run(HookKind::CreateRuntime, &hooks, "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "createRuntime hook 1 (/bin/sh): exited with status 3; stdout: progress; \
         stderr: first problem; second"
    );
    assert_eq!(read(&out), "0\n");
}

#[test]
fn missing_hook_is_an_exec_failure() {
    let hook: Hook = serde_json::from_value(json!({"path": "/nonexistent/hook"})).unwrap();
    let err = run(HookKind::Prestart, &[hook], "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "prestart hook 0 (/nonexistent/hook): exec failed: No such file or directory (os error 2)"
    );
}

#[test]
fn killed_hook_reports_the_signal() {
    let err = run(HookKind::StartContainer, &[sh("kill -TERM $$")], "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "startContainer hook 0 (/bin/sh): killed by signal SIGTERM"
    );
}

#[test]
fn timeout_kills_and_reaps_the_hook() {
    let tmp = TempDir::new();
    let pidfile = tmp.file("pid");
    let script = format!(
        "echo $$ > '{}'; echo waiting >&2; exec sleep 30",
        pidfile.display()
    );
    let started = Instant::now();
    let err = run(HookKind::Poststart, &[sh_with_timeout(&script, 1)], "{}").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "poststart hook 0 (/bin/sh): timed out after 1s; stderr: waiting"
    );
    let pid = nix::unistd::Pid::from_raw(read(&pidfile).trim().parse().unwrap());
    assert_eq!(
        nix::sys::signal::kill(pid, None),
        Err(nix::errno::Errno::ESRCH)
    );
}

#[test]
fn non_positive_timeout_is_refused() {
    let err = run(HookKind::Prestart, &[sh_with_timeout("exit 0", 0)], "{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "prestart hook 0 (/bin/sh): timeout must be a positive number of seconds, got 0"
    );
}

#[test]
fn hook_ignoring_a_large_state_succeeds_without_stray_sigpipe() {
    let state = "x".repeat(4 << 20);
    let mut sigpipe = SigSet::empty();
    sigpipe.add(Signal::SIGPIPE);
    // Like a caller that blocks signals to forward them.
    let old = sigpipe.thread_swap_mask(SigmaskHow::SIG_BLOCK).unwrap();
    let result = run(HookKind::Poststart, &[sh("exit 0")], &state);
    // SAFETY: sigpending fills the zeroed set; sigismember only reads it.
    let pending = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        libc::sigismember(&set, libc::SIGPIPE) == 1
    };
    let mask_after = SigSet::thread_get_mask().unwrap();
    old.thread_set_mask().unwrap();
    result.unwrap();
    assert!(!pending, "SIGPIPE left pending");
    assert!(
        mask_after.contains(Signal::SIGPIPE),
        "caller's mask not restored"
    );
}

#[test]
fn chatty_hook_cannot_block_and_only_the_tail_is_kept() {
    let script = "i=0; while [ $i -lt 3000 ]; do \
                  echo \"out $i .........................................\"; \
                  echo \"err $i .........................................\" >&2; \
                  i=$((i+1)); done; exit 1";
    let err = run(HookKind::Poststop, &[sh(script)], &"s".repeat(1 << 20)).unwrap_err();
    let HookError::Exited {
        code: 1, output, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(output
        .stderr
        .ends_with("err 2999 ........................................."));
    assert!(output
        .stdout
        .ends_with("out 2999 ........................................."));
    assert!(
        output.stderr.len() <= 4096 + 2 * 4096 / 50,
        "{}",
        output.stderr.len()
    );
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn hook_starts_with_empty_signal_mask_and_default_dispositions() {
    let tmp = TempDir::new();
    let out = tmp.file("status");
    let script = format!(
        "exec grep -E '^Sig(Blk|Ign)' /proc/self/status > '{}'",
        out.display()
    );
    let old = SigSet::all()
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .unwrap();
    let result = run(HookKind::CreateRuntime, &[sh(&script)], "{}");
    old.thread_set_mask().unwrap();
    result.unwrap();
    assert_eq!(
        read(&out),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[test]
fn hook_does_not_inherit_stray_fds() {
    let file = std::fs::File::open("/dev/null").unwrap();
    // F_DUPFD (unlike F_DUPFD_CLOEXEC) leaves the new fd inheritable.
    // SAFETY: duplicating an fd we own; the copy is closed below.
    let stray = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD, 300) };
    assert!(stray >= 300);
    let result = run(
        HookKind::CreateRuntime,
        &[sh(&format!("! [ -e /proc/$$/fd/{stray} ]"))],
        "{}",
    );
    // SAFETY: `stray` is ours and nothing else refers to it.
    unsafe { libc::close(stray) };
    result.unwrap();
}

#[test]
fn fcntl_fallback_marks_fds_cloexec() {
    // Run in a forked child: it changes flags on every fd of the process.
    // SAFETY: the child only makes async-signal-safe calls, then _exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => unsafe {
            let fd = libc::fcntl(0, libc::F_DUPFD, 3);
            let ok = crate::syscall::cloexec_by_fcntl(3).is_ok()
                && libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0;
            libc::_exit(if ok { 0 } else { 1 });
        },
        nix::unistd::ForkResult::Parent { child } => {
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
        }
    }
}

fn hooks_json(value: serde_json::Value) -> Hooks {
    serde_json::from_value(value).unwrap()
}

#[test]
fn validate_accepts_good_hooks_and_none() {
    assert!(validate(None).is_empty());
    let hooks = hooks_json(json!({
        "prestart": [{"path": "/bin/sh", "timeout": 5}],
        "startContainer": [{"path": "/only/in/the/container"}],
        "poststop": [{"path": "/bin/true", "args": ["true"]}],
    }));
    assert_eq!(validate(Some(&hooks)), Vec::<(String, String)>::new());
}

#[test]
fn validate_reports_each_problem_with_its_json_path() {
    let tmp = TempDir::new();
    let plain = tmp.file("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let hooks = hooks_json(json!({
        "prestart": [{"path": "relative/hook"}],
        "createRuntime": [{"path": "/bin/sh", "timeout": 0}],
        "createContainer": [{"path": "/nonexistent/hook"}],
        "startContainer": [{"path": "sh", "timeout": -1}],
        "poststart": [{"path": "/bin/sh"}, {"path": plain}],
        "poststop": [{"path": tmp.0}],
    }));
    let p = |path: &str, msg: &str| (path.to_string(), msg.to_string());
    assert_eq!(
        validate(Some(&hooks)),
        vec![
            p("hooks.prestart[0].path", "must be an absolute path"),
            p(
                "hooks.createRuntime[0].timeout",
                "must be a positive number of seconds"
            ),
            p(
                "hooks.createContainer[0].path",
                "\"/nonexistent/hook\": No such file or directory (os error 2)"
            ),
            p("hooks.startContainer[0].path", "must be an absolute path"),
            p(
                "hooks.startContainer[0].timeout",
                "must be a positive number of seconds"
            ),
            p(
                "hooks.poststart[1].path",
                &format!("{plain:?} is not an executable file")
            ),
            p(
                "hooks.poststop[0].path",
                &format!("{:?} is not an executable file", tmp.0)
            ),
        ]
    );
}
