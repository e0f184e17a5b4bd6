//! Kernel cpu and node lists ("0-3,7"): cpuset.cpus and cpuset.mems
//! (checked before they are written, and read back for stats),
//! `process.execCPUAffinity` and `linux.memoryPolicy.nodes`. One parser;
//! each caller bounds the numbers for its own use.

/// Why a list is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    /// Not numbers and `lo-hi` ranges separated by commas.
    Syntax,
    /// A range that runs backwards, as written (`3-1`).
    Backwards(String),
}

/// The inclusive ranges `list` names, in its order. White space around
/// the whole list is ignored (files end in a newline); an empty list names
/// nothing, which each caller accepts or not.
pub fn ranges(list: &str) -> Result<Vec<(u32, u32)>, ListError> {
    let list = list.trim();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|part| {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let (lo, hi) = (number(lo)?, number(hi)?);
            if lo > hi {
                return Err(ListError::Backwards(part.to_string()));
            }
            Ok((lo, hi))
        })
        .collect()
}

/// Digits only: `str::parse` would also take a sign.
fn number(s: &str) -> Result<u32, ListError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ListError::Syntax);
    }
    s.parse().map_err(|_| ListError::Syntax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(ranges("0-2,5\n"), Ok(vec![(0, 2), (5, 5)]));
        assert_eq!(ranges(" 7 "), Ok(vec![(7, 7)]));
        assert_eq!(ranges("3-3,1"), Ok(vec![(3, 3), (1, 1)]));
        assert_eq!(ranges(""), Ok(vec![]));
        assert_eq!(ranges("\n"), Ok(vec![]));
        assert_eq!(ranges("3-1"), Err(ListError::Backwards("3-1".into())));
        for bad in [
            "a",
            "1-",
            "-1",
            "0,,1",
            "1,",
            "+1",
            "1-2-3",
            "0, 1",
            "4294967296",
        ] {
            assert_eq!(ranges(bad), Err(ListError::Syntax), "{bad:?}");
        }
    }
}
