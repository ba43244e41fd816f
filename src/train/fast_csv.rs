//! The fast path of CSV parsing for the common case, a plain numeric file: no quotes, `\n`
//! or `\r\n` line ends, a number in every feature cell. It splits the text at line
//! boundaries, counts the rows of every chunk, then parses the chunks on all cores straight
//! into the caller's row-major buffer (a block of a file or text, see
//! [`super::plain_csv::BlockReader`]): no per-field allocation. A plain decimal of
//! up to 15 significant digits is read by [`plain_decimal`], exactly; any other cell by the
//! same `str::parse::<f64>` as the general parser, so the result is bit-for-bit identical.
//! On anything unusual (a quote, a lone `\r`, a ragged row, a missing or non-numeric cell)
//! it gives up and the general parser runs instead, which also writes the error message:
//! the two paths cannot disagree about what is wrong.

use rayon::prelude::*;

/// Below this the general parser is as fast and the threads are not worth waking.
pub(super) const MIN_PARALLEL_BYTES: usize = 1 << 20;

/// Targets stay text until every row is read: numbers when every one parses, else the
/// trimmed cells (class labels such as `setosa`), borrowed from the text.
pub(super) enum Targets<'a> {
    Numbers(Vec<f64>),
    Labels(Vec<&'a str>),
}

/// The targets of the rows [`parse_into`] added: each row's trimmed cell, and its number
/// (meaningful only where `numeric`, which says every cell parsed as one).
pub(super) struct ParsedRows<'a> {
    pub rows: usize,
    pub numbers: Vec<f64>,
    pub labels: Vec<&'a str>,
    pub numeric: bool,
}

/// Parses the rows of `body` (whole lines, no header) onto the end of `x`, which grows by
/// rows × (fields − 1) cells (within its capacity, when the caller reserved enough).
/// `None` means "use the general parser"; `x` then holds a partial block.
pub(super) fn parse_into<'a>(
    body: &'a str,
    fields: usize,
    target: usize,
    x: &mut Vec<f64>,
) -> Option<ParsedRows<'a>> {
    if fields < 2 || target >= fields {
        return None;
    }
    let bytes = body.as_bytes();
    if memchr::memchr(b'"', bytes).is_some() {
        return None;
    }
    let chunks = split_at_lines(body, rayon::current_num_threads() * 4);
    let counts: Vec<usize> = chunks.par_iter().map(|c| count_rows(c)).collect();
    let rows: usize = counts.iter().sum();
    let d = fields - 1;
    let cells = rows.checked_mul(d)?;
    let start = x.len();
    if start == 0 && x.capacity() < cells {
        // Fresh zeroed pages from the allocator, instead of writing the zeros.
        *x = vec![0.0; cells];
    } else {
        x.resize(start.checked_add(cells)?, 0.0);
    }
    let mut numbers = vec![0.0; rows];
    let mut labels: Vec<&str> = vec![""; rows];
    // Disjoint slices of the outputs, one per chunk, in order.
    let mut jobs = Vec::with_capacity(chunks.len());
    let (mut x_rest, mut n_rest, mut l_rest) =
        (x.get_mut(start..)?, &mut numbers[..], &mut labels[..]);
    for (chunk, &count) in chunks.iter().zip(&counts) {
        let (xs, xr) = std::mem::take(&mut x_rest).split_at_mut(count * d);
        let (ns, nr) = std::mem::take(&mut n_rest).split_at_mut(count);
        let (ls, lr) = std::mem::take(&mut l_rest).split_at_mut(count);
        (x_rest, n_rest, l_rest) = (xr, nr, lr);
        jobs.push((*chunk, xs, ns, ls));
    }
    let outcomes: Vec<Option<bool>> = jobs
        .into_par_iter()
        .map(|(chunk, xs, ns, ls)| parse_chunk(chunk, fields, target, xs, ns, ls))
        .collect();
    let mut numeric = true;
    for outcome in outcomes {
        numeric &= outcome?;
    }
    Some(ParsedRows {
        rows,
        numbers,
        labels,
        numeric,
    })
}

/// About `parts` pieces of `text`, each ending just after a `\n` (the last at the end).
fn split_at_lines(text: &str, parts: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let step = (bytes.len() / parts.max(1)).max(1);
    let mut out = Vec::with_capacity(parts + 1);
    let mut start = 0;
    while start < bytes.len() {
        let guess = (start + step).min(bytes.len());
        let end = match memchr::memchr(b'\n', bytes.get(guess..).unwrap_or_default()) {
            Some(i) => guess + i + 1,
            None => bytes.len(),
        };
        out.push(text.get(start..end).unwrap_or_default());
        start = end;
    }
    out
}

/// The lines that are records: the general parser skips empty lines.
fn lines(chunk: &str) -> impl Iterator<Item = &str> {
    // `split('\n')` by the memchr crate's search: the standard library's per-line
    // search was a twentieth of a parse.
    let ends = memchr::memchr_iter(b'\n', chunk.as_bytes()).chain(std::iter::once(chunk.len()));
    let mut start = 0;
    ends.map(move |end| {
        let line = chunk.get(start..end).unwrap_or_default();
        start = end + 1;
        line
    })
    .map(|l| l.strip_suffix('\r').unwrap_or(l))
    .filter(|l| !l.is_empty())
}

fn count_rows(chunk: &str) -> usize {
    lines(chunk).count()
}

/// Fills one chunk's rows. `None` gives up; `Some(numeric)` says whether every target
/// parsed as a number.
fn parse_chunk<'a>(
    chunk: &'a str,
    fields: usize,
    target: usize,
    x: &mut [f64],
    numbers: &mut [f64],
    labels: &mut [&'a str],
) -> Option<bool> {
    let d = fields - 1;
    let mut numeric = true;
    let any_cr = memchr::memchr(b'\r', chunk.as_bytes()).is_some();
    for (row, line) in lines(chunk).enumerate() {
        let bytes = line.as_bytes();
        // A `\r` inside a line ends a record for the general parser.
        if any_cr && memchr::memchr(b'\r', bytes).is_some() {
            return None;
        }
        let out = x.get_mut(row * d..(row + 1) * d)?;
        let mut at = 0;
        let mut j = 0;
        for field in 0..fields {
            // The cell starts at `at`; past the line's end there is none (a short row).
            if at > bytes.len() {
                return None;
            }
            let end = if field == target {
                let end = cell_end(bytes, at);
                let cell = line.get(at..end)?.trim();
                if cell.is_empty() {
                    return None;
                }
                *labels.get_mut(row)? = cell;
                match cell.parse::<f64>() {
                    Ok(v) => *numbers.get_mut(row)? = v,
                    Err(_) => numeric = false,
                }
                end
            } else {
                let (v, end) = match plain_decimal(bytes, at) {
                    Some(found) => found,
                    None => {
                        let end = cell_end(bytes, at);
                        let v = line.get(at..end)?.trim().parse::<f64>().ok()?;
                        (v, end)
                    }
                };
                if !v.is_finite() {
                    return None;
                }
                *out.get_mut(j)? = v;
                j += 1;
                end
            };
            at = end + 1;
        }
        // Every cell taken and the line used up: more cells is a ragged row.
        if at != bytes.len() + 1 {
            return None;
        }
    }
    Some(numeric)
}

/// Where the cell starting at `at` ends: the next comma, or the line's end.
fn cell_end(bytes: &[u8], at: usize) -> usize {
    memchr::memchr(b',', bytes.get(at..).unwrap_or_default()).map_or(bytes.len(), |i| at + i)
}

/// Powers of ten exactly representable as f64.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The cell at `at` read as `[+-]digits[.digits]` with at most 15 significant digits and
/// 15 after the point, and where it
/// ends; `None` for anything else (spaces, exponents, more digits, words), which the
/// general `str::parse` then reads. Such a number is an integer m < 10^15 < 2^53 over
/// 10^f with f ≤ 15, both exact in f64, so the one division is correctly rounded: the same
/// value `str::parse` gives (Clinger's fast path), without its generality, which was over
/// half of the parse.
fn plain_decimal(bytes: &[u8], at: usize) -> Option<(f64, usize)> {
    let mut i = at;
    let negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut mantissa = 0u64;
    // Significant digits (leading zeros add nothing to the mantissa), and any digit at all.
    let mut digits = 0usize;
    let mut seen = false;
    let mut fraction: Option<usize> = None;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                seen = true;
                if mantissa > 0 {
                    digits += 1;
                }
                if let Some(f) = fraction.as_mut() {
                    *f += 1;
                }
                if digits > 15 {
                    return None;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            b',' => break,
            _ => return None,
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    let value = mantissa as f64 / EXACT_POWERS_OF_TEN.get(fraction.unwrap_or(0))?;
    Some((if negative { -value } else { value }, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_read_exactly_what_str_parse_reads() {
        let mut cells: Vec<String> = [
            "0",
            "-0",
            "+0",
            "-0.0",
            "1.",
            ".5",
            "-.5",
            "+1.25",
            "007.100",
            "999999999999999",
            "0.000000000000001",
            "-12345678.9012345",
            "123456789012345.",
        ]
        .iter()
        .map(|c| c.to_string())
        .collect();
        // Pseudo-random decimals of 1 to 15 digits with the point anywhere.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let digits = (state >> 60) as usize % 15 + 1;
            let point = (state >> 20) as usize % (digits + 1);
            let number = format!("{:015}", state % 1_000_000_000_000_000);
            let number = &number[15 - digits..];
            let sign = ["", "-", "+"][(state >> 40) as usize % 3];
            cells.push(format!("{sign}{}.{}", &number[..point], &number[point..]));
        }
        for cell in &cells {
            let (v, end) = plain_decimal(cell.as_bytes(), 0).unwrap_or_else(|| panic!("{cell}"));
            assert_eq!(end, cell.len());
            let expected: f64 = cell.parse().unwrap();
            assert_eq!(v.to_bits(), expected.to_bits(), "{cell}");
        }
        // What it leaves to `str::parse`.
        for cell in [
            "",
            "-",
            ".",
            "1e5",
            " 1",
            "1 ",
            "1.2.3",
            "inf",
            "NaN",
            "1234567890123456",
            "0x10",
        ] {
            assert_eq!(plain_decimal(cell.as_bytes(), 0), None, "{cell:?}");
        }
        // A cell ends at a comma.
        assert_eq!(plain_decimal(b"1.5,2", 0), Some((1.5, 3)));
        assert_eq!(plain_decimal(b"1.5,-2", 4), Some((-2.0, 6)));
    }

    #[test]
    fn chunks_end_at_line_ends_and_cover_the_text() {
        let text = "1,2\n3,4\r\n\n5,6\n7,8";
        for parts in 1..8 {
            let chunks = split_at_lines(text, parts);
            assert_eq!(chunks.concat(), text);
            for c in &chunks[..chunks.len() - 1] {
                assert!(c.ends_with('\n'), "{chunks:?}");
            }
            assert_eq!(chunks.iter().map(|c| count_rows(c)).sum::<usize>(), 4);
        }
    }
}
