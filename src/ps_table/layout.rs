//! How `ps` lays a row out: each column has a width and an alignment, but
//! text wider than its column is never cut; it pushes the following
//! columns right, and they take the room back where they have padding.
//!
//! The model (procps's): `correct` is where the next column should start
//! (the widths so far plus one space between columns) and `actual` where
//! the text written so far ends. A column is padded to start at `correct`
//! (right-aligned text also by the room it leaves in its width), but always
//! at least one space after the previous one.

/// The size of `ps`'s line buffer, which also stands in for the screen's
/// width when its output is not a terminal: the widest a row can get.
pub const OUTBUF_SIZE: usize = 2 * 64 * 1024;

/// The most padding `ps` puts before one column.
const MAX_PADDING: usize = 144;

/// Where a column puts text narrower than its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One row being written, column by column.
pub struct Row {
    line: Vec<u8>,
    correct: usize,
    actual: usize,
    /// Whether a column was written, so the next needs a separating space.
    after_column: bool,
}

impl Default for Row {
    fn default() -> Self {
        Self::new()
    }
}

impl Row {
    pub fn new() -> Row {
        Row {
            line: Vec::with_capacity(128),
            correct: 0,
            actual: 0,
            after_column: false,
        }
    }

    /// The padding before a column whose own alignment asks for `pad`:
    /// back to where the column should start, else one separating space.
    fn padding(&self, pad: usize) -> usize {
        let wanted = (self.correct + pad) as isize - self.actual as isize;
        let space = if wanted < 1 {
            usize::from(self.after_column)
        } else {
            wanted as usize
        };
        space.min(MAX_PADDING)
    }

    /// A column that is not the last: `text` takes `cells` screen cells.
    pub fn column(&mut self, width: usize, align: Align, text: &[u8], cells: usize) {
        let pad = match align {
            Align::Left => 0,
            Align::Right => width.saturating_sub(cells),
        };
        let space = self.padding(pad);
        self.line.resize(self.line.len() + space, b' ');
        self.line.extend_from_slice(text);
        self.actual += space + cells;
        self.correct += width + 1;
        self.after_column = true;
    }

    /// How many cells the last column may take: the rest of the line.
    pub fn room_left(&self) -> usize {
        let start = if self.correct > self.actual {
            self.correct
        } else {
            self.actual + usize::from(self.after_column)
        };
        OUTBUF_SIZE.saturating_sub(start).min(OUTBUF_SIZE - 1)
    }

    /// The last column, left-aligned and unlimited; ends the line.
    pub fn finish(mut self, text: &[u8]) -> Vec<u8> {
        let space = self.padding(0);
        self.line.resize(self.line.len() + space, b' ');
        self.line.extend_from_slice(text);
        self.line.push(b'\n');
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::{Align, Row};

    fn row(columns: &[(usize, Align, &str)], last: &str) -> String {
        let mut r = Row::new();
        for (w, a, t) in columns {
            r.column(*w, *a, t.as_bytes(), t.len());
        }
        String::from_utf8(r.finish(last.as_bytes())).unwrap()
    }

    #[test]
    fn columns_are_padded_to_their_widths_with_one_space_between() {
        let cols = [
            (8, Align::Left, "root"),
            (5, Align::Right, "42"),
            (2, Align::Right, "0"),
        ];
        assert_eq!(row(&cols, "sh"), "root        42  0 sh\n");
    }

    #[test]
    fn a_wide_value_pushes_the_next_columns_until_padding_absorbs_it() {
        // "1-02:03:04" overflows TIME's 8 cells by 2; CMD starts 2 later.
        let cols = [(8, Align::Left, "?"), (8, Align::Right, "1-02:03:04")];
        assert_eq!(row(&cols, "sh"), "?        1-02:03:04 sh\n");
        // A long left-aligned value eats into the next column's padding.
        let cols = [
            (8, Align::Left, "pts/123456"),
            (8, Align::Right, "00:00:00"),
        ];
        assert_eq!(row(&cols, "sh"), "pts/123456 00:00:00 sh\n");
        let cols = [(8, Align::Left, "pts/1234567890"), (5, Align::Right, "1")];
        assert_eq!(row(&cols, "x"), "pts/1234567890 1 x\n");
    }

    #[test]
    fn the_last_column_gets_the_rest_of_the_buffer() {
        let mut r = Row::new();
        r.column(8, Align::Left, b"root", 4);
        assert_eq!(r.room_left(), super::OUTBUF_SIZE - 9);
        r.column(3, Align::Left, b"toolong", 7);
        // The text ends at 9 + 7 = 16; the next starts one space later.
        assert_eq!(r.room_left(), super::OUTBUF_SIZE - 17);
    }
}
