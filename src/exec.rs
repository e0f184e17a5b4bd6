//! The last step of the init: cwd, finding the program, and execve.

use oci_spec::runtime::Process;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Used when the container's environment has no PATH.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("process.cwd: {path:?} in the container: {}", go_text(.source))]
    Cwd {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("process.cwd: {path:?} leads outside the container's root filesystem")]
    CwdOutside { path: PathBuf },
    // Engines look for "executable file not found" and "no such file or
    // directory" to report exit code 127, as runc words them.
    #[error("process.args[0]: exec: {name:?}: executable file not found in $PATH")]
    NotInPath { name: String },
    #[error("process.args[0]: exec: {name:?}: stat {name}: {}", go_text(.source))]
    Stat {
        name: String,
        source: std::io::Error,
    },
    #[error("process.args[0]: exec: {name:?}: permission denied")]
    NotExecutable { name: String },
    #[error("process.{what}: contains a NUL byte")]
    Nul { what: &'static str },
    #[error("exec {path:?}: {source}")]
    Exec {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Errors worded as Go prints them ("no such file or directory"), since
/// engines match on those words.
fn go_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// A resolved program, ready for execve.
pub struct Program {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

fn cstrings(
    items: impl Iterator<Item = String>,
    what: &'static str,
) -> Result<Vec<CString>, ExecError> {
    items
        .map(|s| CString::new(s).map_err(|_| ExecError::Nul { what }))
        .collect()
}

/// chdir into process.cwd and resolve args[0] with the container's PATH,
/// as the container's user, so every "cannot run" is a create error.
pub fn prepare(process: &Process, extra_env: &[String]) -> Result<Program, ExecError> {
    let cwd = process.cwd();
    std::env::set_current_dir(cwd).map_err(|source| ExecError::Cwd {
        path: cwd.clone(),
        source,
    })?;
    check_cwd_inside(cwd)?;
    let args = process.args().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(extra_env.iter().cloned());
    let needs_home = !env.iter().any(|e| e.starts_with("HOME="));
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let path = resolve(&args[0], path_var)?;
    let path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| ExecError::Nul { what: "args" })?;
    let argv = cstrings(args.into_iter(), "args")?;
    let mut envp = cstrings(env.into_iter(), "env")?;
    if needs_home {
        let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
        envp.push(home_var(&passwd, process.user().uid()));
    }
    Ok(Program { path, argv, envp })
}

/// HOME for a process whose environment has none, as runc sets it: the
/// home of `uid` in the container's passwd file `passwd`, byte for byte,
/// or "/" without an entry (or with a home execve could not pass).
fn home_var(passwd: &[u8], uid: u32) -> CString {
    let home = crate::identity::passwd_entry(passwd, uid).map_or(&b"/"[..], |e| e.home);
    CString::new([b"HOME=", home].concat()).unwrap_or_else(|_| c"HOME=/".into())
}

/// A cwd such as /proc/self/fd/N can lead through an fd inherited from the
/// caller to a directory outside the container (CVE-2024-21626). Such a
/// directory cannot be reached from our root, and getcwd says so.
fn check_cwd_inside(cwd: &Path) -> Result<(), ExecError> {
    let inside = match std::env::current_dir() {
        Ok(dir) => dir.is_absolute(),
        // A seccomp profile may refuse getcwd itself (runtime-tools'
        // linux_seccomp does): then "." must be the directory `cwd` names
        // from our root, resolved without magic links.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => same_dir_as_dot(cwd),
        Err(_) => false,
    };
    if inside {
        Ok(())
    } else {
        Err(ExecError::CwdOutside {
            path: cwd.to_path_buf(),
        })
    }
}

fn same_dir_as_dot(cwd: &Path) -> bool {
    use std::os::fd::AsFd;
    let Ok(root) = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH,
        nix::sys::stat::Mode::empty(),
    ) else {
        return false;
    };
    let Ok(dir) = crate::syscall::openat2(
        root.as_fd(),
        cwd,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        libc::RESOLVE_NO_MAGICLINKS,
    ) else {
        return false;
    };
    match (
        nix::sys::stat::fstat(dir.as_fd()),
        nix::sys::stat::stat("."),
    ) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

fn resolve(name: &str, path_var: &str) -> Result<PathBuf, ExecError> {
    if name.contains('/') {
        let p = Path::new(name);
        let meta = std::fs::metadata(p).map_err(|source| ExecError::Stat {
            name: name.into(),
            source,
        })?;
        return if is_executable(p, &meta) {
            Ok(p.to_path_buf())
        } else {
            Err(ExecError::NotExecutable { name: name.into() })
        };
    }
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if is_executable(&candidate, &meta) {
                return Ok(candidate);
            }
        }
    }
    Err(ExecError::NotInPath { name: name.into() })
}

fn is_executable(path: &Path, meta: &std::fs::Metadata) -> bool {
    if !meta.is_file() {
        return false;
    }
    match nix::unistd::faccessat(
        nix::fcntl::AT_FDCWD,
        path,
        nix::unistd::AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    ) {
        Ok(()) => true,
        // An access check never fails with EPERM for X_OK: that is a
        // seccomp profile (already loaded) refusing faccessat2, as the
        // runtime-tools default profile does. Fall back to the mode bits;
        // execve still has the last word.
        Err(nix::errno::Errno::EPERM) => {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o111 != 0
        }
        Err(_) => false,
    }
}

/// execve; returns only on failure.
pub fn exec(program: &Program) -> ExecError {
    let err = nix::unistd::execve(&program.path, &program.argv, &program.envp).unwrap_err();
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(program.path.as_bytes()));
    ExecError::Exec {
        path,
        source: err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path_and_reports_like_runc() {
        assert_eq!(
            resolve("sh", "/nonexistent:/bin").unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = resolve("no-such-program", "/bin").unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.args[0]: exec: \"no-such-program\": executable file not found in $PATH"
        );
        let e = resolve("/no/such", "/bin").unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.args[0]: exec: \"/no/such\": stat /no/such: no such file or directory"
        );
        let plain = std::env::temp_dir().join(format!("keel-exec-test-{}", std::process::id()));
        std::fs::write(&plain, "x").unwrap();
        let res = resolve(plain.to_str().unwrap(), "/bin");
        std::fs::remove_file(&plain).unwrap();
        assert!(matches!(res, Err(ExecError::NotExecutable { .. })));
    }

    #[test]
    fn home_is_the_users_home_whatever_else_the_passwd_file_holds() {
        let passwd =
            b"odd\xff:x:5:5::/h\xff:\nuser:x:1000:1000::/home/user:/bin/sh\nnul:x:7:7::/a\0b:";
        let home = |uid| home_var(passwd, uid).into_bytes();
        assert_eq!(home(1000), b"HOME=/home/user");
        // Bytes that are not UTF-8 pass as they are, as with runc.
        assert_eq!(home(5), b"HOME=/h\xff");
        assert_eq!(home(6), b"HOME=/");
        assert_eq!(home(7), b"HOME=/");
    }
}
