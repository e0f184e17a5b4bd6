//! The locale the table is made in: the environment's, as `ps` takes it,
//! but for the calling thread only (`uselocale`). setlocale would change
//! it for the whole process, under any other thread's feet; the C library
//! calls the table relies on (nl_langinfo, mbrtowc, iswprint, wcwidth,
//! isprint, strftime) all follow the thread's locale.

use std::cell::Cell;
use std::ffi::CStr;

/// The categories asked for so far, in force on this thread until dropped;
/// the thread's previous locale comes back then.
pub struct ThreadLocale {
    /// The LC_*_MASK bits asked for, loaded or not: a locale the system
    /// lacks is looked for once, not for every row.
    asked: Cell<libc::c_int>,
    /// Our locale object, once one loaded.
    current: Cell<libc::locale_t>,
    /// What the thread used before it.
    previous: Cell<libc::locale_t>,
}

impl ThreadLocale {
    pub fn new() -> ThreadLocale {
        ThreadLocale {
            asked: Cell::new(0),
            current: Cell::new(std::ptr::null_mut()),
            previous: Cell::new(std::ptr::null_mut()),
        }
    }

    /// Take the categories of `mask` from the environment (LC_ALL, then
    /// the category's variable, then LANG), as `setlocale(category, "")`
    /// does. Where that names a locale the system lacks, they stay C.
    pub fn take_from_environment(&self, mask: libc::c_int) {
        self.take(mask, c"");
    }

    /// Take the categories of `mask` from locale `name`, keeping those
    /// taken before; false if the system has no such locale.
    pub fn take(&self, mask: libc::c_int, name: &CStr) -> bool {
        if self.asked.get() & mask == mask {
            return true;
        }
        self.asked.set(self.asked.get() | mask);
        let current = self.current.get();
        if !current.is_null() {
            // newlocale changes its base in place: not while it is in use.
            // SAFETY: `previous` is what uselocale returned to us.
            unsafe { libc::uselocale(self.previous.get()) };
        }
        // SAFETY: name is NUL-terminated; current is null or our own
        // object, which newlocale takes over (and leaves alone if it fails).
        let new = unsafe { libc::newlocale(mask, name.as_ptr(), current) };
        let in_use = if new.is_null() { current } else { new };
        if !in_use.is_null() {
            // SAFETY: a valid locale object of ours, freed only on drop.
            let before = unsafe { libc::uselocale(in_use) };
            if current.is_null() {
                self.previous.set(before);
            }
            self.current.set(in_use);
        }
        !new.is_null()
    }
}

impl Drop for ThreadLocale {
    fn drop(&mut self) {
        let current = self.current.get();
        if !current.is_null() {
            // SAFETY: back to the thread's own locale, then free ours,
            // which nothing uses any more.
            unsafe {
                libc::uselocale(self.previous.get());
                libc::freelocale(current);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ThreadLocale;
    use crate::ps_table::escape::Charset;

    #[test]
    fn the_locale_is_the_threads_own_and_ends_with_it() {
        assert_eq!(Charset::current(), Charset::Bytes);
        {
            let locale = ThreadLocale::new();
            assert!(locale.take(libc::LC_CTYPE_MASK, c"C.UTF-8"));
            assert_eq!(Charset::current(), Charset::Utf8);
            // Another thread keeps the process's C locale meanwhile.
            let other = std::thread::spawn(Charset::current).join().unwrap();
            assert_eq!(other, Charset::Bytes);
            // A category taken later keeps those taken before.
            assert!(locale.take(libc::LC_TIME_MASK, c"C.UTF-8"));
            assert_eq!(Charset::current(), Charset::Utf8);
            // A locale the system lacks changes nothing.
            assert!(!locale.take(libc::LC_MONETARY_MASK, c"xx_XX.nowhere"));
            assert_eq!(Charset::current(), Charset::Utf8);
        }
        assert_eq!(Charset::current(), Charset::Bytes);
    }

    #[test]
    fn a_missing_locale_leaves_the_thread_as_it_was() {
        let locale = ThreadLocale::new();
        assert!(!locale.take(libc::LC_CTYPE_MASK, c"xx_XX.nowhere"));
        assert_eq!(Charset::current(), Charset::Bytes);
    }
}
