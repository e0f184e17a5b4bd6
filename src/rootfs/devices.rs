//! /dev contents: the default device nodes, `linux.devices`, and the
//! standard symlinks, all created relative to directory fds resolved inside
//! the rootfs.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::error::{RootfsError, StepError};
use super::mounts::{self, Kind};
use super::resolve::{self, Root};
use super::sys;

/// The nodes every container gets (runc's list): path, major, minor.
const DEFAULTS: &[(&str, u32, u32)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its index in `linux.devices`; None for a default device.
    pub index: Option<usize>,
    pub path: PathBuf,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub file_type: u32,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// /dev is left alone when the config binds something over it (runc).
pub fn needs_setup(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        let (kind, e) = mounts::entry(m);
        kind == Kind::Bind && e.dest == Path::new("/dev")
    })
}

fn file_type(t: LinuxDeviceType) -> Option<u32> {
    match t {
        LinuxDeviceType::C | LinuxDeviceType::U => Some(libc::S_IFCHR),
        LinuxDeviceType::B => Some(libc::S_IFBLK),
        LinuxDeviceType::P => Some(libc::S_IFIFO),
        LinuxDeviceType::A => None,
    }
}

/// The defaults not overridden by a config device of the same path, then
/// the config's devices. /dev/ptmx is skipped: it becomes a symlink to the
/// devpts instance.
pub fn nodes(spec: &Spec) -> Result<Vec<Node>, RootfsError> {
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    let devices = devices.map(Vec::as_slice).unwrap_or_default();
    let configured = |p: &Path| devices.iter().any(|d| resolve::clean(d.path()) == p);
    let mut out: Vec<Node> = DEFAULTS
        .iter()
        .filter(|(p, _, _)| !configured(Path::new(p)))
        .map(|&(p, major, minor)| Node {
            index: None,
            path: PathBuf::from(p),
            file_type: libc::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    for (i, d) in devices.iter().enumerate() {
        let invalid = |msg: &str| RootfsError::Invalid {
            field: format!("linux.devices[{i}]"),
            msg: msg.into(),
        };
        let Some(file_type) = file_type(d.typ()) else {
            return Err(invalid("type must be one of \"c\", \"b\", \"u\", \"p\""));
        };
        let (Ok(major), Ok(minor)) = (u32::try_from(d.major()), u32::try_from(d.minor())) else {
            return Err(invalid("major and minor must be between 0 and 4294967295"));
        };
        if resolve::clean(d.path()) == Path::new("/dev/ptmx") {
            continue;
        }
        out.push(Node {
            index: Some(i),
            path: d.path().clone(),
            file_type,
            major,
            minor,
            // Type bits in fileMode are ignored; the node's type is `type`.
            mode: d.file_mode().map_or(0o666, |m| m & !libc::S_IFMT),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(out)
}

pub fn setup(spec: &Spec, root: &Root) -> Result<(), RootfsError> {
    if !needs_setup(spec) {
        return Ok(());
    }
    // Only the initial user namespace may make device nodes (and a node
    // made elsewhere would not open anyway: its mount is nodev to the
    // host's devices); there the host's node is bound in, as runc does.
    let bind = crate::userns::in_user_namespace();
    let nodes = nodes(spec)?;
    // mknod's mode goes through the umask: without one, the nodes come out
    // with their exact mode and need no chmod each.
    let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let made = make_nodes(root, &nodes, bind);
    nix::sys::stat::umask(umask);
    made?;
    links(root).map_err(|err| RootfsError::DevLinks { err })
}

fn make_nodes(root: &Root, nodes: &[Node], bind: bool) -> Result<(), RootfsError> {
    let mut parents = Parents { root, last: None };
    for node in nodes {
        let made = if bind && node.file_type != libc::S_IFIFO {
            bind_host(&mut parents, node)
        } else {
            create(&mut parents, node)
        };
        made.map_err(|err| match node.index {
            Some(index) => RootfsError::Device {
                index,
                path: node.path.clone(),
                err,
            },
            None => RootfsError::DefaultDevice {
                path: node.path.clone(),
                err,
            },
        })?;
    }
    Ok(())
}

fn dev_t(node: &Node) -> libc::dev_t {
    if node.file_type == libc::S_IFIFO {
        0
    } else {
        libc::makedev(node.major, node.minor)
    }
}

/// Does the inode `st` describes already satisfy `node`?
fn matches(st: &libc::stat, node: &Node) -> bool {
    st.st_mode & libc::S_IFMT == node.file_type
        && (node.file_type == libc::S_IFIFO || st.st_rdev == dev_t(node))
}

fn describe(st: &libc::stat) -> String {
    format!(
        "type {:o}, device {}:{}",
        st.st_mode & libc::S_IFMT,
        libc::major(st.st_rdev),
        libc::minor(st.st_rdev)
    )
}

/// The directories the nodes go in, resolved (and made) once for a run of
/// nodes in the same one: the defaults all go in /dev.
struct Parents<'a> {
    root: &'a Root,
    last: Option<(PathBuf, OwnedFd)>,
}

impl Parents<'_> {
    fn of(&mut self, path: &Path) -> Result<(BorrowedFd<'_>, CString), StepError> {
        let clean = resolve::clean(path);
        let parent = clean.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = clean.file_name().unwrap_or_default();
        let cname = sys::cstring(name).map_err(StepError::op(format!("name {name:?}")))?;
        let entry = match self.last.take() {
            Some((p, dir)) if p == parent => (p, dir),
            _ => (parent, self.root.parent_dir(&clean)?.0),
        };
        let slot = self.last.insert(entry);
        Ok((slot.1.as_fd(), cname))
    }
}

/// mknodat in the resolved parent, then check the new inode and set its
/// exact mode (umask may have spoiled it) and owner where they differ. An
/// existing node is accepted only if it is the same device (runtime-spec:
/// otherwise error).
fn create(parents: &mut Parents, node: &Node) -> Result<(), StepError> {
    let (dir, name) = parents.of(&node.path)?;
    let made = sys::mknodat(dir, &name, node.file_type | node.mode, dev_t(node));
    let existed = match made {
        Ok(()) => false,
        Err(e) if sys::is_errno(&e, libc::EEXIST) => true,
        Err(e) => return Err(StepError::sys("mknod", e)),
    };
    let fd = sys::open_entry(dir, &name).map_err(StepError::op("open node"))?;
    let st = sys::fstat(fd.as_fd()).map_err(StepError::op("stat node"))?;
    if !matches(&st, node) {
        let what = if existed {
            "an existing file"
        } else {
            "the new node"
        };
        return Err(StepError::Refused(format!(
            "{what} does not match the requested device ({})",
            describe(&st)
        )));
    }
    if existed {
        return Ok(());
    }
    if st.st_mode & 0o7777 != node.mode {
        sys::fchmod_path(fd.as_fd(), node.mode)
            .map_err(StepError::op(format!("chmod {:o}", node.mode)))?;
    }
    if (st.st_uid, st.st_gid) == (node.uid, node.gid) {
        return Ok(());
    }
    sys::fchown_empty(fd.as_fd(), node.uid, node.gid)
        .map_err(StepError::op(format!("chown {}:{}", node.uid, node.gid)))
}

/// Bind the host's node at the same path over an empty file in the
/// rootfs, after checking that the host's node is the requested device.
fn bind_host(parents: &mut Parents, node: &Node) -> Result<(), StepError> {
    let host = sys::open(&node.path, libc::O_PATH | libc::O_NOFOLLOW)
        .map_err(StepError::op(format!("open host device {:?}", node.path)))?;
    let st = sys::fstat(host.as_fd()).map_err(StepError::op("stat host device"))?;
    if !matches(&st, node) {
        return Err(StepError::Refused(format!(
            "the host's {:?} is not the requested device ({})",
            node.path,
            describe(&st)
        )));
    }
    let (dir, name) = parents.of(&node.path)?;
    let target = resolve::create_file_in(dir, &name, &node.path)?;
    let (src, dst) = (sys::fd_path(host.as_fd()), sys::fd_path(target.as_fd()));
    sys::mount(Some(&src), &dst, None, libc::MS_BIND, None)
        .map_err(StepError::op(format!("bind the host's {:?}", node.path)))
}

fn symlink(dir: BorrowedFd<'_>, target: &str, name: &str) -> Result<(), StepError> {
    let op = || format!("symlink /dev/{name} -> {target}");
    let t = sys::cstring(target.as_ref()).map_err(StepError::op(op()))?;
    let n = sys::cstring(name.as_ref()).map_err(StepError::op(op()))?;
    match sys::symlinkat(&t, dir, &n) {
        Err(e) if !sys::is_errno(&e, libc::EEXIST) => Err(StepError::sys(op(), e)),
        _ => Ok(()),
    }
}

/// /dev/fd, std{in,out,err}, /dev/core when the kernel has /proc/kcore, and
/// /dev/ptmx pointing at the devpts instance (replacing whatever was there).
fn links(root: &Root) -> Result<(), StepError> {
    let dev = root.mkdir_all(Path::new("/dev"))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        symlink(dev.as_fd(), target, name)?;
    }
    match sys::unlinkat(dev.as_fd(), c"ptmx") {
        Err(e) if !sys::is_errno(&e, libc::ENOENT) => {
            return Err(StepError::sys("remove /dev/ptmx", e))
        }
        _ => {}
    }
    symlink(dev.as_fd(), "pts/ptmx", "ptmx")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_overridden_and_config_devices_appended() {
        let s = spec(
            r#"{"ociVersion":"1.2.0","linux":{"devices":[
                {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":8630,"uid":5},
                {"path":"/dev/fuse","type":"c","major":10,"minor":229},
                {"path":"/dev/ptmx","type":"c","major":5,"minor":2},
                {"path":"/dev/fifo","type":"p"}]}}"#,
        );
        let n = nodes(&s).unwrap();
        let paths: Vec<&str> = n.iter().map(|n| n.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty",
                "/dev/null",
                "/dev/fuse",
                "/dev/fifo"
            ]
        );
        assert_eq!(n[5].mode, 0o666);
        assert_eq!(n[5].uid, 5);
        assert_eq!(n[5].index, Some(0));
        assert_eq!(n[0].index, None);
        assert_eq!(n[7].file_type, libc::S_IFIFO);
        assert_eq!(dev_t(&n[7]), 0);
    }

    #[test]
    fn type_a_is_rejected() {
        let s =
            spec(r#"{"ociVersion":"1.2.0","linux":{"devices":[{"path":"/dev/x","type":"a"}]}}"#);
        let e = nodes(&s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "config.json: linux.devices[0]: type must be one of \"c\", \"b\", \"u\", \"p\""
        );
    }

    #[test]
    fn dev_bind_skips_setup() {
        let s = spec(
            r#"{"ociVersion":"1.2.0","mounts":[{"destination":"/dev","type":"bind","source":"/dev","options":["rbind"]}]}"#,
        );
        assert!(!needs_setup(&s));
        let s = spec(
            r#"{"ociVersion":"1.2.0","mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs"}]}"#,
        );
        assert!(needs_setup(&s));
    }
}
