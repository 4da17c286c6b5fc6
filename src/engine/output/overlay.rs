//! What a terminal would show for one line: a carriage return moves back to the
//! start and what follows overwrites (a progress bar shows its latest state),
//! backspace steps back one cell, and "erase in line" (`ESC [ K`) clears. Every
//! other control character is left in place for `neutralise` to make visible.

/// The line as a terminal would leave it. A line without CR, BS or ESC is returned
/// untouched, without a copy.
pub fn overlaid(text: String) -> String {
    if !text.bytes().any(|b| matches!(b, b'\r' | 0x08 | 0x1b)) {
        return text;
    }
    let mut cells: Vec<char> = Vec::with_capacity(text.len());
    let mut col = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\u{8}' => col = col.saturating_sub(1),
            '\u{1b}' if chars.peek() == Some(&'[') => {
                let rest: String = chars.clone().skip(1).take(3).collect();
                match erase_in_line(&rest) {
                    Some((mode, used)) => {
                        for _ in 0..=used {
                            chars.next();
                        }
                        erase(&mut cells, col, mode);
                    }
                    None => put(&mut cells, &mut col, c),
                }
            }
            c => put(&mut cells, &mut col, c),
        }
    }
    cells.into_iter().collect()
}

fn put(cells: &mut Vec<char>, col: &mut usize, c: char) {
    if *col < cells.len() {
        cells[*col] = c;
    } else {
        cells.resize(*col, ' ');
        cells.push(c);
    }
    *col += 1;
}

/// `K`, `0K`, `1K` or `2K` at the start of `rest` (what follows `ESC [`): the mode
/// and how many characters it takes.
fn erase_in_line(rest: &str) -> Option<(u8, usize)> {
    let mut it = rest.chars();
    match it.next()? {
        'K' => Some((0, 1)),
        d @ '0'..='2' if it.next() == Some('K') => Some((d as u8 - b'0', 2)),
        _ => None,
    }
}

fn erase(cells: &mut Vec<char>, col: usize, mode: u8) {
    match mode {
        0 => cells.truncate(col),
        1 => cells.iter_mut().take(col + 1).for_each(|c| *c = ' '),
        // Cells left of the cursor are refilled with spaces by the next `put`.
        _ => cells.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> String {
        overlaid(s.to_string())
    }

    #[test]
    fn a_carriage_return_rewrites_the_line() {
        assert_eq!(o("10%\r50%\r100%"), "100%");
        assert_eq!(o("hello world\rHi"), "Hillo world");
        assert_eq!(o("done\r"), "done");
        assert_eq!(o("plain"), "plain");
    }

    #[test]
    fn erase_in_line_and_backspace() {
        assert_eq!(o("downloading 99%\r\x1b[Kdone"), "done");
        assert_eq!(o("abc\r\x1b[2Kx"), "x");
        assert_eq!(o("abc\x1b[2Kx"), "   x");
        assert_eq!(o("spin |\u{8}/\u{8}-"), "spin -");
    }

    #[test]
    fn other_escapes_are_kept_for_neutralising() {
        assert_eq!(o("\x1b[31mred\x1b[0m"), "\x1b[31mred\x1b[0m");
        assert_eq!(o("a\x1b"), "a\x1b");
    }
}
