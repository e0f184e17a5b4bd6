//! process.user: groups, gid, uid and umask of the container process.

use oci_spec::runtime::User;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("process.user.additionalGids: setgroups {gids:?}: {source}")]
    Groups { gids: Vec<u32>, source: nix::Error },
    #[error("process.user.gid: setresgid {gid}: {source}")]
    Gid { gid: u32, source: nix::Error },
    #[error("process.user.uid: setresuid {uid}: {source}")]
    Uid { uid: u32, source: nix::Error },
    #[error(
        "process.user.additionalGids: {gids:?}: setgroups is denied in this user namespace \
         (an unprivileged caller's single-id mapping)"
    )]
    GroupsDenied { gids: Vec<u32> },
    #[error("keep capabilities across setuid: {0}")]
    KeepCaps(nix::Error),
}

/// Switch to the configured user, keeping the permitted capabilities across
/// the uid change so the configured sets can be applied afterwards.
pub fn switch(user: &User) -> Result<(), IdentityError> {
    use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
    nix::sys::prctl::set_keepcaps(true).map_err(IdentityError::KeepCaps)?;
    let gids: Vec<u32> = user.additional_gids().clone().unwrap_or_default();
    let groups: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
    // Where setgroups is denied (an unprivileged caller's own-id mapping)
    // the inherited groups stay, unmapped, as runc leaves them; only
    // groups the config asks for are then an error. Asked of the kernel,
    // not of /proc/self/setgroups: by now /proc is the container's. We
    // still hold CAP_SETGID here, so EPERM can only mean "deny".
    match setgroups(&groups) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if gids.is_empty() => {}
        Err(nix::errno::Errno::EPERM) => return Err(IdentityError::GroupsDenied { gids }),
        Err(source) => return Err(IdentityError::Groups { gids, source }),
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).map_err(|source| IdentityError::Gid {
        gid: user.gid(),
        source,
    })?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).map_err(|source| IdentityError::Uid {
        uid: user.uid(),
        source,
    })?;
    nix::sys::prctl::set_keepcaps(false).map_err(IdentityError::KeepCaps)?;
    Ok(())
}

/// The umask: the configured one, or 0022 as runc uses.
pub fn apply_umask(user: &User) {
    let mask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        mask as libc::mode_t,
    ));
}

/// The name of host user `uid`, from /etc/passwd. Read directly, not
/// through NSS: keel's release build is static, and a static binary
/// cannot load glibc's NSS modules reliably (nor should `list` pay for
/// reading nsswitch.conf).
pub fn host_user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    user_name_in(&text, uid)
}

fn user_name_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let (name, _, id) = (f.next()?, f.next()?, f.next()?);
        (id.parse() == Ok(uid)).then(|| name.to_string())
    })
}

#[cfg(test)]
mod passwd_tests {
    #[test]
    fn a_name_is_found_by_uid_and_malformed_lines_are_skipped() {
        let text = "root:x:0:0::/root:/bin/sh\nbroken\nuser:x:1000:1000::/home/user:/bin/sh\n";
        assert_eq!(super::user_name_in(text, 1000).as_deref(), Some("user"));
        assert_eq!(super::user_name_in(text, 0).as_deref(), Some("root"));
        assert_eq!(super::user_name_in(text, 7), None);
    }
}
