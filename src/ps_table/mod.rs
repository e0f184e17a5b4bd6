//! `keel ps`'s default table: the lines `ps -ef` (procps-ng 4.0.2, writing
//! to a pipe) prints for the container's processes, header included, made
//! by keel itself. Running `ps` for them read every process on the
//! machine and cost more memory than the whole of crun's `ps`; this reads
//! only the container's.
//!
//! Formatting is pure (`fields`, `escape`, `layout`); `proc` and `tty` are
//! the thin readers of /proc and /dev it needs. The locale comes from the
//! environment as for `ps`, but only the categories the table shows, only
//! once some text needs them, and only for the calling thread (`locale`).

mod escape;
mod fields;
mod layout;
mod locale;
mod proc;
mod tty;

use escape::{output_pass, Charset};
use fields::USER_WIDTH;
use layout::{Align, Row, OUTBUF_SIZE};
use locale::ThreadLocale;
use proc::{Process, System};
use std::cell::OnceCell;
use std::collections::HashMap;

pub use proc::ProcReadError;

/// The widths of `ps -f`'s columns but the last (CMD), which has none.
struct Widths {
    pid: usize,
    ppid: usize,
}

const C_WIDTH: usize = 2;
const STIME_WIDTH: usize = 5;
const TTY_WIDTH: usize = 8;
const TIME_WIDTH: usize = 8;

/// What every row is made with.
struct Listing {
    charset: Charset,
    system: System,
    boot_ticks: u64,
    widths: Widths,
    /// The local date of the listing: year and day of the year.
    today: Option<(i32, i32)>,
    /// The user name of each process's uid, if it has one.
    names: HashMap<u32, Option<Vec<u8>>>,
    drivers: OnceCell<Vec<tty::Driver>>,
    /// In force on this thread until the table is made.
    locale: ThreadLocale,
}

/// The table for `pids` (any order; shown ascending, as /proc lists them),
/// header first. A pid whose process is gone is left out.
pub fn table(pids: &[i32]) -> Result<Vec<u8>, ProcReadError> {
    let system = System::read()?;
    let mut pids = pids.to_vec();
    pids.sort_unstable();
    pids.dedup();
    let processes: Vec<Process> = pids.into_iter().filter_map(proc::read_process).collect();
    let names = user_names(&processes);
    let name = |uid| names.get(&uid).and_then(Option::as_deref);
    // LC_CTYPE decides which bytes are printable, LC_TIME (in `stime`)
    // how STIME names months; no other category shows in the table.
    let locale = ThreadLocale::new();
    let charset = if processes.iter().all(|p| is_plain(p, name(p.uid))) {
        Charset::Bytes
    } else {
        locale.take_from_environment(libc::LC_CTYPE_MASK);
        Charset::current()
    };
    let listing = Listing {
        charset,
        boot_ticks: fields::boot_ticks(system.uptime, system.hertz),
        widths: Widths {
            pid: system.pid_digits.max(3),
            ppid: system.pid_digits.max(4),
        },
        today: local_time(system.now).map(|tm| (tm.tm_year, tm.tm_yday)),
        system,
        names,
        drivers: OnceCell::new(),
        locale,
    };
    let mut out = listing.header();
    for process in &processes {
        out.extend_from_slice(&listing.row(process));
    }
    Ok(out)
}

/// The user names of the processes' uids: one read of /etc/passwd (none
/// without processes) and one lookup per uid, however many processes
/// share it.
fn user_names(processes: &[Process]) -> HashMap<u32, Option<Vec<u8>>> {
    let mut names = HashMap::new();
    if processes.is_empty() {
        return names;
    }
    let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
    for p in processes {
        names.entry(p.uid).or_insert_with(|| {
            crate::identity::passwd_entry(&passwd, p.uid).map(|e| e.name.to_vec())
        });
    }
    names
}

/// Whether all the text of `p` the table escapes is printable ASCII (the
/// NULs and newlines of a command line become spaces first). Such text
/// shows alike in every locale, so the locale's character tables, whose
/// loading would be most of what the table costs (a third of a megabyte
/// for C.UTF-8, about 128 KiB more peak RSS), stay unloaded.
fn is_plain(p: &Process, name: Option<&[u8]>) -> bool {
    let printable = |c: &u8| (b' '..=b'~').contains(c);
    let name = name.unwrap_or_default();
    // The comm shows only for a process without arguments.
    let command_plain = if p.cmdline.is_empty() {
        p.stat.comm.iter().all(printable)
    } else {
        p.cmdline
            .iter()
            .all(|c| printable(c) || *c == 0 || *c == b'\n')
    };
    command_plain && name.iter().all(printable)
}

/// Text that is as many cells as bytes (digits, times, tty names).
fn put(row: &mut Row, width: usize, align: Align, text: &[u8]) {
    row.column(width, align, text, text.len());
}

impl Listing {
    fn header(&self) -> Vec<u8> {
        let mut row = Row::new();
        put(&mut row, USER_WIDTH, Align::Left, b"UID");
        put(&mut row, self.widths.pid, Align::Right, b"PID");
        put(&mut row, self.widths.ppid, Align::Right, b"PPID");
        put(&mut row, C_WIDTH, Align::Right, b"C");
        put(&mut row, STIME_WIDTH, Align::Right, b"STIME");
        put(&mut row, TTY_WIDTH, Align::Left, b"TTY");
        put(&mut row, TIME_WIDTH, Align::Right, b"TIME");
        row.finish(b"CMD")
    }

    fn row(&self, p: &Process) -> Vec<u8> {
        let (hz, st) = (self.system.hertz, &p.stat);
        let mut row = Row::new();
        let name = self.names.get(&p.uid).and_then(Option::as_deref);
        let (user, cells) = fields::user_column(name, p.uid, self.charset);
        row.column(USER_WIDTH, Align::Left, &user, cells);
        put(
            &mut row,
            self.widths.pid,
            Align::Right,
            p.pid.to_string().as_bytes(),
        );
        let ppid = (st.ppid as u32).to_string();
        put(&mut row, self.widths.ppid, Align::Right, ppid.as_bytes());
        let used = st.utime.wrapping_add(st.stime);
        let c = fields::cpu_percent(used, st.start_time, self.boot_ticks, hz);
        put(&mut row, C_WIDTH, Align::Right, format!("{c:2}").as_bytes());
        put(
            &mut row,
            STIME_WIDTH,
            Align::Right,
            &self.stime(st.start_time),
        );
        let tty = tty::tty_name(st.tty_nr, p.pid, || self.drivers());
        put(&mut row, TTY_WIDTH, Align::Left, &tty);
        let time = fields::cpu_time(st.utime, st.stime, hz);
        put(&mut row, TIME_WIDTH, Align::Right, time.as_bytes());
        let comm = fields::clean_comm(&st.comm, self.charset);
        let cmd = fields::command(&p.cmdline, &comm, st.state == b'Z', self.charset);
        let (cmd, _) = output_pass(&cmd, self.charset, OUTBUF_SIZE, row.room_left());
        row.finish(&cmd)
    }

    fn stime(&self, start_ticks: u64) -> Vec<u8> {
        let start = fields::start_epoch(self.system.btime, start_ticks, self.system.hertz);
        let (Some(today), Some(tm)) = (self.today, local_time(start)) else {
            return Vec::new();
        };
        let format = fields::stime_format(today, (tm.tm_year, tm.tm_yday));
        if format == c"%b%d" {
            self.locale.take_from_environment(libc::LC_TIME_MASK);
        }
        strftime(format, &tm)
    }

    fn drivers(&self) -> &[tty::Driver] {
        self.drivers.get_or_init(|| {
            // procps reads the table with one read of at most 9999 bytes.
            let mut text = std::fs::read("/proc/tty/drivers").unwrap_or_default();
            text.truncate(9999);
            tty::parse_drivers(&text)
        })
    }
}

/// `t` in the local time zone (TZ, else /etc/localtime).
fn local_time(t: i64) -> Option<libc::tm> {
    // SAFETY: tm is plain data, filled in by localtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a time_t and a tm.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    ok.then_some(tm)
}

/// `tm` formatted by strftime in the current locale; empty if it does not
/// fit `ps`'s 240-byte field buffer.
fn strftime(format: &std::ffi::CStr, tm: &libc::tm) -> Vec<u8> {
    let mut buf = [0u8; 240];
    // SAFETY: buf is writable for its length; format is NUL-terminated.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), tm) };
    buf[..n].to_vec()
}

#[cfg(test)]
mod tests {
    use super::{local_time, strftime};

    #[test]
    fn stime_formats_with_the_c_library() {
        // In the test's C locale: English month names, zero-padded days.
        let tm = local_time(0).unwrap();
        let mut noon = tm;
        (noon.tm_mon, noon.tm_mday, noon.tm_hour, noon.tm_min) = (5, 6, 3, 2);
        assert_eq!(strftime(c"%b%d", &noon), b"Jun06");
        assert_eq!(strftime(c"%H:%M", &noon), b"03:02");
    }
}
