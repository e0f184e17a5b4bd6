// Embed the git commit in `keel --version`, as runc does; "unknown" outside git.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KEEL_COMMIT={commit}");
    // Ask git where HEAD and the branches live: in a worktree `.git` is a
    // file, and a watched path that does not exist makes cargo rerun this
    // script, and so rebuild keel, on every build (`cargo fuzz run`
    // rebuilt the instrumented keel twice per run).
    for path in ["HEAD", "refs/heads"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
