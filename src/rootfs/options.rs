//! Mount option strings (config.md `mounts[].options`) to mount(2) flags,
//! propagation changes, recursive mount attributes and filesystem data.

use libc::c_ulong;

/// MOUNT_ATTR_* values from <linux/mount.h> (used with mount_setattr(2)).
pub mod attr {
    pub const RDONLY: u64 = 0x01;
    pub const NOSUID: u64 = 0x02;
    pub const NODEV: u64 = 0x04;
    pub const NOEXEC: u64 = 0x08;
    pub const RELATIME: u64 = 0x00;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    /// The atime "field": setting any atime mode requires clearing all of it.
    pub const ATIME_MASK: u64 = 0x70;
    pub const NODIRATIME: u64 = 0x80;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Set(c_ulong),
    Clear(c_ulong),
    Propagation(c_ulong),
    RecSet(u64),
    RecClear(u64),
}

use Effect::{Clear, Propagation, RecClear, RecSet, Set};

const FLAG_OPTIONS: &[(&str, Effect)] = &[
    ("defaults", Set(0)),
    ("ro", Set(libc::MS_RDONLY)),
    ("rw", Clear(libc::MS_RDONLY)),
    ("suid", Clear(libc::MS_NOSUID)),
    ("nosuid", Set(libc::MS_NOSUID)),
    ("dev", Clear(libc::MS_NODEV)),
    ("nodev", Set(libc::MS_NODEV)),
    ("exec", Clear(libc::MS_NOEXEC)),
    ("noexec", Set(libc::MS_NOEXEC)),
    ("sync", Set(libc::MS_SYNCHRONOUS)),
    ("async", Clear(libc::MS_SYNCHRONOUS)),
    ("dirsync", Set(libc::MS_DIRSYNC)),
    ("remount", Set(libc::MS_REMOUNT)),
    ("mand", Set(libc::MS_MANDLOCK)),
    ("nomand", Clear(libc::MS_MANDLOCK)),
    ("atime", Clear(libc::MS_NOATIME)),
    ("noatime", Set(libc::MS_NOATIME)),
    ("diratime", Clear(libc::MS_NODIRATIME)),
    ("nodiratime", Set(libc::MS_NODIRATIME)),
    ("bind", Set(libc::MS_BIND)),
    ("rbind", Set(libc::MS_BIND | libc::MS_REC)),
    ("relatime", Set(libc::MS_RELATIME)),
    ("norelatime", Clear(libc::MS_RELATIME)),
    ("strictatime", Set(libc::MS_STRICTATIME)),
    ("nostrictatime", Clear(libc::MS_STRICTATIME)),
    ("lazytime", Set(libc::MS_LAZYTIME)),
    ("nolazytime", Clear(libc::MS_LAZYTIME)),
    ("iversion", Set(libc::MS_I_VERSION)),
    ("noiversion", Clear(libc::MS_I_VERSION)),
    ("silent", Set(libc::MS_SILENT)),
    ("loud", Clear(libc::MS_SILENT)),
    ("nosymfollow", Set(libc::MS_NOSYMFOLLOW)),
    ("symfollow", Clear(libc::MS_NOSYMFOLLOW)),
    ("private", Propagation(libc::MS_PRIVATE)),
    ("rprivate", Propagation(libc::MS_PRIVATE | libc::MS_REC)),
    ("shared", Propagation(libc::MS_SHARED)),
    ("rshared", Propagation(libc::MS_SHARED | libc::MS_REC)),
    ("slave", Propagation(libc::MS_SLAVE)),
    ("rslave", Propagation(libc::MS_SLAVE | libc::MS_REC)),
    ("unbindable", Propagation(libc::MS_UNBINDABLE)),
    (
        "runbindable",
        Propagation(libc::MS_UNBINDABLE | libc::MS_REC),
    ),
    ("rro", RecSet(attr::RDONLY)),
    ("rrw", RecClear(attr::RDONLY)),
    ("rnosuid", RecSet(attr::NOSUID)),
    ("rsuid", RecClear(attr::NOSUID)),
    ("rnodev", RecSet(attr::NODEV)),
    ("rdev", RecClear(attr::NODEV)),
    ("rnoexec", RecSet(attr::NOEXEC)),
    ("rexec", RecClear(attr::NOEXEC)),
    ("rnodiratime", RecSet(attr::NODIRATIME)),
    ("rdiratime", RecClear(attr::NODIRATIME)),
    ("rrelatime", RecSet(attr::RELATIME)),
    ("rnorelatime", RecClear(attr::RELATIME)),
    ("rnoatime", RecSet(attr::NOATIME)),
    ("ratime", RecClear(attr::NOATIME)),
    ("rstrictatime", RecSet(attr::STRICTATIME)),
    ("rnostrictatime", RecClear(attr::STRICTATIME)),
    ("rnosymfollow", RecSet(attr::NOSYMFOLLOW)),
    ("rsymfollow", RecClear(attr::NOSYMFOLLOW)),
];

/// A tmpfs that starts with a copy of the directory it covers.
pub const TMPCOPYUP: &str = "tmpcopyup";

/// An idmapped bind mount: the mapping on its top mount only, or
/// (`ridmap`) on every mount of the tree too (config.md).
pub const IDMAP: &str = "idmap";
pub const RIDMAP: &str = "ridmap";

/// Whether an idmapped mount's mapping covers the mounts below its top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idmap {
    Top,
    Recursive,
}

/// Every option name keel recognises (not a filesystem's own data
/// options): the flag table plus the options handled by name.
pub fn recognised() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FLAG_OPTIONS.iter().map(|(n, _)| *n).collect();
    names.extend([TMPCOPYUP, IDMAP, RIDMAP]);
    names.sort_unstable();
    names
}

/// The parsed form of one mount's `options`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags to set.
    pub flags: c_ulong,
    /// MS_* flags explicitly cleared (e.g. "rw", "dev").
    pub cleared: c_ulong,
    /// Propagation changes to apply after the mount, in order.
    pub propagation: Vec<c_ulong>,
    /// mount_setattr(2) attributes applied recursively ("rro", ...).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// "tmpcopyup": fill a fresh tmpfs with what the directory held.
    pub tmpcopyup: bool,
    /// "idmap" or "ridmap" (the last one given), with its index in
    /// `options`; never passed to mount(2).
    pub idmap: Option<(usize, Idmap)>,
    /// Options not in the table, with their index in `options`: the
    /// filesystem's data string for fresh mounts, an error for bind mounts.
    pub unknown: Vec<(usize, String)>,
}

impl MountOptions {
    pub fn parse(options: &[String]) -> MountOptions {
        let mut m = MountOptions::default();
        for (i, o) in options.iter().enumerate() {
            match FLAG_OPTIONS
                .iter()
                .find(|(name, _)| name == o)
                .map(|(_, e)| *e)
            {
                Some(Set(f)) => {
                    m.flags |= f;
                    m.cleared &= !f;
                }
                Some(Clear(f)) => {
                    m.flags &= !f;
                    m.cleared |= f;
                }
                Some(Propagation(f)) => m.propagation.push(f),
                Some(RecSet(a)) => m.rec_attr(a, true),
                Some(RecClear(a)) => m.rec_attr(a, false),
                None if o == TMPCOPYUP => m.tmpcopyup = true,
                None if o == IDMAP => m.idmap = Some((i, Idmap::Top)),
                None if o == RIDMAP => m.idmap = Some((i, Idmap::Recursive)),
                None => m.unknown.push((i, o.clone())),
            }
        }
        m
    }

    fn rec_attr(&mut self, a: u64, set: bool) {
        if a & attr::ATIME_MASK == a {
            // mount_setattr(2): an atime mode is set by clearing the whole
            // atime field and setting the wanted value; clearing one clears it.
            self.rec_clear |= attr::ATIME_MASK;
            self.rec_set &= !attr::ATIME_MASK;
            if set {
                self.rec_set |= a;
            }
            return;
        }
        if set {
            self.rec_set |= a;
            self.rec_clear &= !a;
        } else {
            self.rec_clear |= a;
            self.rec_set &= !a;
        }
    }

    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }

    /// The comma-joined unknown options, for a filesystem's data argument.
    pub fn data(&self) -> String {
        self.unknown
            .iter()
            .map(|(_, o)| o.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn has_rec_attrs(&self) -> bool {
        self.rec_set != 0 || self.rec_clear != 0
    }

    /// Whether `mounts::apply_after` has anything to do.
    pub fn needs_after(&self) -> bool {
        !self.propagation.is_empty() || self.has_rec_attrs()
    }
}

/// The MS_* flags for a `linux.rootfsPropagation` / propagation option name.
pub fn propagation(name: &str) -> Option<c_ulong> {
    FLAG_OPTIONS.iter().find_map(|(n, e)| match e {
        Propagation(f) if *n == name => Some(*f),
        _ => None,
    })
}

/// Names of the propagation options, for error messages.
pub fn propagation_names() -> Vec<&'static str> {
    FLAG_OPTIONS
        .iter()
        .filter(|(_, e)| matches!(e, Propagation(_)))
        .map(|(n, _)| *n)
        .collect()
}

/// Human-readable option names for `flags` (for error messages).
pub fn flag_names(flags: c_ulong) -> String {
    let names: Vec<&str> = FLAG_OPTIONS
        .iter()
        .filter_map(|(n, e)| match e {
            Set(f) if *f != 0 && f.count_ones() == 1 && flags & f == *f => Some(*n),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        MountOptions::parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let m = parse(&["ro", "nosuid", "nodev", "rw", "noexec"]);
        assert_eq!(m.flags, libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
        assert_eq!(m.cleared, libc::MS_RDONLY);
        let m = parse(&["rw", "ro"]);
        assert_eq!(m.flags, libc::MS_RDONLY);
        assert_eq!(m.cleared, 0);
    }

    #[test]
    fn unknown_options_become_data() {
        let m = parse(&[
            "nosuid",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(m.flags, libc::MS_NOSUID);
        assert_eq!(m.data(), "newinstance,ptmxmode=0666,mode=0620,gid=5");
        assert_eq!(m.unknown[0], (1, "newinstance".to_string()));
        assert!(!m.is_bind());
    }

    #[test]
    fn bind_rbind_and_propagation() {
        let m = parse(&["rbind", "rprivate", "ro"]);
        assert!(m.is_bind());
        assert_eq!(m.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
        assert_eq!(m.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        assert!(m.unknown.is_empty());
        let m = parse(&["bind", "slave", "shared"]);
        assert_eq!(m.flags, libc::MS_BIND);
        assert_eq!(m.propagation, vec![libc::MS_SLAVE, libc::MS_SHARED]);
    }

    #[test]
    fn defaults_and_atime_options() {
        let m = parse(&[
            "defaults",
            "noatime",
            "nodiratime",
            "strictatime",
            "norelatime",
        ]);
        assert_eq!(
            m.flags,
            libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_STRICTATIME
        );
        assert_eq!(m.cleared, libc::MS_RELATIME);
    }

    #[test]
    fn recursive_attributes() {
        let m = parse(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(m.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(m.rec_clear, attr::ATIME_MASK);
        let m = parse(&["rro", "rrw"]);
        assert_eq!(m.rec_set, 0);
        assert_eq!(m.rec_clear, attr::RDONLY);
        assert!(m.has_rec_attrs());
    }

    #[test]
    fn idmap_options_are_not_data() {
        let m = parse(&["rbind", "idmap", "ridmap"]);
        assert_eq!(m.idmap, Some((2, Idmap::Recursive)));
        assert!(m.unknown.is_empty());
        assert_eq!(parse(&["bind", "idmap"]).idmap, Some((1, Idmap::Top)));
        assert!(recognised().contains(&"ridmap"));
    }

    #[test]
    fn propagation_lookup() {
        assert_eq!(propagation("rslave"), Some(libc::MS_SLAVE | libc::MS_REC));
        assert_eq!(propagation("unbindable"), Some(libc::MS_UNBINDABLE));
        assert_eq!(propagation("ro"), None);
        assert_eq!(propagation("bogus"), None);
        assert_eq!(propagation_names().len(), 8);
    }

    #[test]
    fn names_of_flags() {
        assert_eq!(flag_names(libc::MS_RDONLY | libc::MS_NODEV), "ro,nodev");
        assert_eq!(flag_names(0), "none");
    }
}
