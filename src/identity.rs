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
/// reading nsswitch.conf). A name that is not UTF-8 is shown as Go shows
/// such a string in JSON, as runc's `list` would.
pub fn host_user_name(uid: u32) -> Option<String> {
    let text = std::fs::read("/etc/passwd").ok()?;
    let entry = passwd_entry(&text, uid)?;
    Some(String::from_utf8_lossy(entry.name).into_owned())
}

/// The fields of a passwd entry keel shows or uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswdEntry<'a> {
    pub name: &'a [u8],
    /// Empty when the line ends before it, as glibc reads such a line.
    pub home: &'a [u8],
}

/// The entry of `uid` in the passwd file `text`: the first well-formed
/// one with that uid, much as glibc's files lookup finds it (blank lines
/// and '#' comments skipped, uid and gid must be plain numbers). Bytes, not text:
/// the file need not be UTF-8, and one line in another encoding must not
/// hide the others.
pub fn passwd_entry(text: &[u8], uid: u32) -> Option<PasswdEntry<'_>> {
    text.split(|c| *c == b'\n').find_map(|line| {
        let start = line.iter().position(|c| !c.is_ascii_whitespace())?;
        if line[start] == b'#' {
            return None;
        }
        let mut fields = line[start..].split(|c| *c == b':');
        let (name, _pw, id, gid) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if decimal(id)? != uid || decimal(gid).is_none() {
            return None;
        }
        let home = fields.nth(1).unwrap_or_default();
        Some(PasswdEntry { name, home })
    })
}

/// A field of digits only (no sign, no spaces) that fits a u32.
fn decimal(field: &[u8]) -> Option<u32> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod passwd_tests {
    use super::{passwd_entry, PasswdEntry};

    fn name(text: &[u8], uid: u32) -> Option<&[u8]> {
        passwd_entry(text, uid).map(|e| e.name)
    }

    #[test]
    fn an_entry_is_found_by_uid_with_its_name_and_home() {
        let text = b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
        let user = PasswdEntry {
            name: b"user",
            home: b"/home/user",
        };
        assert_eq!(passwd_entry(text, 1000), Some(user));
        assert_eq!(name(text, 0), Some(&b"root"[..]));
        assert_eq!(passwd_entry(text, 7), None);
        // The first entry wins; one that ends early has an empty home.
        let text = b"dup:x:1000:1\nuser:x:1000:1000::/home/user:/bin/sh";
        let dup = passwd_entry(text, 1000).map(|e| (e.name, e.home));
        assert_eq!(dup, Some((&b"dup"[..], &b""[..])));
    }

    #[test]
    fn a_line_that_is_not_utf8_hides_no_other_entry() {
        let text = b"odd\xff:x:5:5:\xe9t\xe9:/h\xff:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh";
        assert_eq!(name(text, 1000), Some(&b"user"[..]));
        // Nor is such an entry itself lost: its bytes are given as they are.
        let odd = passwd_entry(text, 5).unwrap();
        assert_eq!((odd.name, odd.home), (&b"odd\xff"[..], &b"/h\xff"[..]));
    }

    #[test]
    fn comments_blank_and_malformed_lines_are_skipped() {
        // 4294967296 does not fit: it must not wrap around to root's 0;
        // nor is "-8" read as u32::MAX - 7.
        let text = b"big:x:4294967296:1\n# c:x:5:5\n\n  root:x:0:0::/root:/bin/sh\nbad:x:7\n\
                     x:x:abc:1\nneg:x:-8:1\nsp:x: 9:1\ngid:x:10:g\n";
        assert_eq!(name(text, 0), Some(&b"root"[..]));
        for uid in [5, 7, 9, 10, u32::MAX - 7] {
            assert_eq!(name(text, uid), None, "uid {uid}");
        }
    }

    #[test]
    fn the_uid_is_matched_as_a_whole_number_not_as_a_prefix_or_a_name() {
        let text = b"1000:x:5:5::/a:\nlong:x:10000:1::/b:\nzero:x:01000:1::/c:\n";
        // "01000" is the number 1000, as glibc's strtoul reads it.
        assert_eq!(name(text, 1000), Some(&b"zero"[..]));
        assert_eq!(name(text, 100), None);
        assert_eq!(name(text, 5), Some(&b"1000"[..]));
    }
}
