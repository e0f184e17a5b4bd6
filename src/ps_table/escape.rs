//! The two passes procps puts text through before `ps` prints it.
//!
//! libproc2 cleans a command line or comm as it reads it (the "library
//! pass"), and `ps` cleans the result again as it fits it into its column
//! (the "output pass"). Both only keep text the terminal can show, and
//! both decide how by the locale's charset, so keel must make the same
//! decision to print the same bytes.

use std::ffi::CStr;

/// How text is judged printable: the locale's charset as procps tells it
/// apart (`nl_langinfo(CODESET)` spelling "UTF-8" in any case, or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// Multibyte text is kept where the C library calls it printable.
    Utf8,
    /// Every byte above ASCII is shown as '?'.
    Bytes,
}

impl Charset {
    /// The charset of the calling thread's current locale.
    pub fn current() -> Charset {
        // SAFETY: nl_langinfo returns a pointer to a NUL-terminated string
        // owned by the C library (or NULL), valid until the next
        // setlocale; it is read at once.
        let codeset = unsafe { libc::nl_langinfo(libc::CODESET) };
        if codeset.is_null() {
            return Charset::Bytes;
        }
        // SAFETY: non-NULL, NUL-terminated (see above).
        let name = unsafe { CStr::from_ptr(codeset) }.to_bytes();
        // procps also requires more than one byte per character in the
        // output pass; every UTF-8 locale has that, so one test suffices.
        if name.eq_ignore_ascii_case(b"UTF-8") {
            Charset::Utf8
        } else {
            Charset::Bytes
        }
    }
}

/// What the byte-wise fallback shows for byte `c`: controls as '.', bytes
/// above ASCII as '?', the rest as themselves.
fn byte_wise(c: u8) -> u8 {
    match c {
        0x01..=0x1f | 0x7f => b'.',
        0x80..=0xff => b'?',
        _ => c,
    }
}

/// The length libproc2 expects of a UTF-8 sequence from its lead byte; None
/// for a byte that cannot start one. Continuation bytes are not checked.
fn lead_len(c: u8) -> Option<usize> {
    match c {
        0x00..=0x7f => Some(1),
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

/// libproc2's pass, in place. With UTF-8, control characters that start a
/// sequence become '?', and from the first byte that cannot start one (or
/// a sequence cut short by the end) everything left is shown byte-wise.
pub fn library_pass(text: &mut [u8], charset: Charset) {
    let mut i = 0;
    if charset == Charset::Utf8 {
        while i < text.len() {
            match lead_len(text[i]) {
                Some(n) if i + n <= text.len() => {
                    if text[i] < 0x20 || text[i] == 0x7f {
                        text[i] = b'?';
                    }
                    i += n;
                }
                _ => break,
            }
        }
    }
    for c in &mut text[i..] {
        *c = byte_wise(*c);
    }
}

/// `ps`'s pass: at most `max_cells` screen cells and `buf_size - 1` bytes
/// of `text`, which ends at its first NUL as a C string would. Returns the
/// bytes and the cells they take. One walk over the text, which stops
/// where the limits do.
pub fn output_pass(
    text: &[u8],
    charset: Charset,
    buf_size: usize,
    max_cells: usize,
) -> (Vec<u8>, usize) {
    if buf_size == 0 || max_cells == 0 {
        return (Vec::new(), 0);
    }
    match charset {
        Charset::Utf8 => output_pass_utf8(text, buf_size, max_cells),
        Charset::Bytes => {
            // One byte is one cell here.
            let out: Vec<u8> = text
                .iter()
                .take_while(|c| **c != 0)
                .take(max_cells.min(buf_size - 1))
                .map(|c| byte_wise(*c))
                .collect();
            let cells = out.len();
            (out, cells)
        }
    }
}

extern "C" {
    // Not exported by the libc crate for glibc; standard C and POSIX.
    fn mbrtowc(
        wc: *mut libc::wchar_t,
        s: *const libc::c_char,
        n: libc::size_t,
        ps: *mut libc::mbstate_t,
    ) -> libc::size_t;
    fn iswprint(wc: u32) -> libc::c_int;
    fn wcwidth(wc: libc::wchar_t) -> libc::c_int;
    fn __ctype_get_mb_cur_max() -> libc::size_t;
}

/// The UTF-8 output pass: the C library decodes and judges each character
/// in the current locale, as for `ps`. An undecodable byte is one '?', a
/// character it calls unprintable is one '?', and a printable one is kept
/// whole only if its cells and bytes still fit.
fn output_pass_utf8(text: &[u8], buf_size: usize, max_cells: usize) -> (Vec<u8>, usize) {
    // SAFETY: a plain query of the current locale.
    let mb_max = unsafe { __ctype_get_mb_cur_max() }.max(1);
    // SAFETY: mbstate_t is plain data; all zeroes is the initial state.
    let mut state: libc::mbstate_t = unsafe { std::mem::zeroed() };
    let (mut out, mut cells, mut pos) = (Vec::new(), 0, 0);
    while pos < text.len() && cells < max_cells && out.len() + 1 < buf_size {
        let mut wc: libc::wchar_t = 0;
        let avail = (text.len() - pos).min(mb_max);
        // SAFETY: text[pos..] holds `avail` readable bytes, which is all the
        // decoder reads; wc and state are valid for writing.
        let len = unsafe { mbrtowc(&mut wc, text[pos..].as_ptr().cast(), avail, &mut state) };
        match len as isize {
            // A NUL: the end of the text.
            0 => break,
            // Undecodable, or a sequence the text ends inside of: either
            // way one '?' for its first byte.
            n if n < 0 => {
                // SAFETY: see above.
                state = unsafe { std::mem::zeroed() };
                out.push(b'?');
                pos += 1;
                cells += 1;
            }
            1 => {
                // SAFETY: isprint takes any value of unsigned char.
                let printable = unsafe { libc::isprint(i32::from(text[pos])) } != 0;
                out.push(if printable { text[pos] } else { b'?' });
                pos += 1;
                cells += 1;
            }
            // SAFETY (both calls): pure functions of a wide character.
            n if unsafe { iswprint(wc as u32) } == 0 => {
                out.push(b'?');
                pos += n as usize;
                cells += 1;
            }
            n => {
                let n = n as usize;
                // SAFETY: see above.
                let width = unsafe { wcwidth(wc) };
                let width = usize::try_from(width).unwrap_or(0);
                if width > max_cells - cells || n >= buf_size - (out.len() + 1) {
                    break;
                }
                out.extend_from_slice(&text[pos..pos + n]);
                pos += n;
                cells += width;
            }
        }
    }
    (out, cells)
}

/// Run `f` with the calling thread in the C.UTF-8 locale, as `ps` runs
/// on this machine; the process's locale stays as it is.
#[cfg(test)]
pub(crate) fn in_utf8_locale<T>(f: impl FnOnce() -> T) -> T {
    let locale = super::locale::ThreadLocale::new();
    assert!(
        locale.take(libc::LC_ALL_MASK, c"C.UTF-8"),
        "the C.UTF-8 locale is missing"
    );
    f()
}

#[cfg(test)]
mod tests {
    use super::{in_utf8_locale, library_pass, output_pass, Charset};

    fn lib(text: &[u8], cs: Charset) -> Vec<u8> {
        let mut t = text.to_vec();
        library_pass(&mut t, cs);
        t
    }

    #[test]
    fn the_library_pass_without_utf8_shows_controls_as_dots_and_high_bytes_as_marks() {
        assert_eq!(lib(b"a\tb\x7f\xc3\xa9", Charset::Bytes), b"a.b.??");
    }

    #[test]
    fn the_library_pass_with_utf8_keeps_sequences_and_marks_controls() {
        assert_eq!(
            lib("a\tb\u{e9}".as_bytes(), Charset::Utf8),
            "a?b\u{e9}".as_bytes()
        );
        // Only the lead byte is judged: a bad continuation survives this pass.
        assert_eq!(lib(b"\xc3A\x01", Charset::Utf8), b"\xc3A?");
    }

    #[test]
    fn the_library_pass_falls_back_byte_wise_from_the_first_bad_lead() {
        // 0x80 cannot start a sequence: from there on, controls are dots.
        assert_eq!(lib(b"a\x01\x80\x01\xc3\xa9", Charset::Utf8), b"a??.??");
        // A sequence cut short by the end counts as bad too.
        assert_eq!(lib(b"ab\xe4\xb8", Charset::Utf8), b"ab??");
    }

    #[test]
    fn the_byte_wise_output_pass_counts_a_cell_per_byte_and_stops_at_the_limits() {
        let (out, cells) = output_pass(b"abc\x01\xff", Charset::Bytes, 100, 100);
        assert_eq!((out.as_slice(), cells), (&b"abc.?"[..], 5));
        assert_eq!(output_pass(b"abcdef", Charset::Bytes, 100, 3).0, b"abc");
        assert_eq!(output_pass(b"abcdef", Charset::Bytes, 3, 100).0, b"ab");
        assert_eq!(output_pass(b"ab\0cd", Charset::Bytes, 100, 100).0, b"ab");
    }

    #[test]
    fn the_utf8_output_pass_keeps_printable_characters_and_counts_their_cells() {
        in_utf8_locale(|| {
            assert_eq!(Charset::current(), Charset::Utf8);
            let text = "a\u{e9}\u{4e2d}".as_bytes();
            let (out, cells) = output_pass(text, Charset::Utf8, 100, 100);
            assert_eq!((out.as_slice(), cells), (text, 4));
            // A wide character that does not fit is left out entirely.
            assert_eq!(
                output_pass(text, Charset::Utf8, 100, 3).0,
                "a\u{e9}".as_bytes()
            );
        });
    }

    #[test]
    fn printable_ascii_shows_alike_in_both_charsets() {
        let ascii: Vec<u8> = (b' '..=b'~').collect();
        in_utf8_locale(|| {
            for (buf, cells) in [(1000, 1000), (1000, 10), (10, 1000)] {
                let utf8 = output_pass(&ascii, Charset::Utf8, buf, cells);
                assert_eq!(utf8, output_pass(&ascii, Charset::Bytes, buf, cells));
            }
        });
        assert_eq!(lib(&ascii, Charset::Utf8), ascii);
        assert_eq!(lib(&ascii, Charset::Bytes), ascii);
    }

    #[test]
    fn the_utf8_output_pass_marks_bad_bytes_and_unprintable_characters() {
        in_utf8_locale(|| {
            // Each undecodable byte is its own '?'; U+0085 is unprintable.
            let (out, cells) = output_pass(b"\xe4\xb8A\xc2\x85\x01", Charset::Utf8, 100, 100);
            assert_eq!((out.as_slice(), cells), (&b"??A??"[..], 5));
            // A sequence cut short by the end of the text, or by a NUL,
            // which ends it.
            assert_eq!(
                output_pass(b"ab\xe4\xb8", Charset::Utf8, 100, 100).0,
                b"ab??"
            );
            assert_eq!(output_pass(b"a\xe4\0b", Charset::Utf8, 100, 100).0, b"a?");
            assert_eq!(output_pass(b"ab\0cd", Charset::Utf8, 100, 100).0, b"ab");
        });
    }
}
