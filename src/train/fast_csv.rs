//! The fast path of CSV parsing for the common case, a plain numeric file: no quotes, `\n`
//! or `\r\n` line ends, a number in every feature cell. It splits the text at line
//! boundaries, counts the rows of every chunk, then parses the chunks on all cores straight
//! into one row-major matrix: no per-field allocation and no second copy. Cells are parsed
//! by the same `str::parse::<f64>` as the general parser (exact round trip), so the result is
//! identical. On anything unusual (a quote, a lone `\r`, a ragged row, a missing or
//! non-numeric cell) it gives up and the general parser runs instead, which also writes the
//! error message: the two paths cannot disagree about what is wrong.

use rayon::prelude::*;

/// Below this the general parser is as fast and the threads are not worth waking.
pub(super) const MIN_PARALLEL_BYTES: usize = 1 << 20;

/// The parsed body of a CSV: `x` is row-major `rows × (fields − 1)`.
pub(super) struct NumericBody<'a> {
    pub x: Vec<f64>,
    pub rows: usize,
    pub targets: Targets<'a>,
}

/// Targets stay text until every row is read: numbers when every one parses, else the
/// trimmed cells (class labels such as `setosa`), borrowed from the text.
pub(super) enum Targets<'a> {
    Numbers(Vec<f64>),
    Labels(Vec<&'a str>),
}

/// `body` is the text after the header line. `None` means "use the general parser".
pub(super) fn parse_body(body: &str, fields: usize, target: usize) -> Option<NumericBody<'_>> {
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
    let mut x = vec![0.0; cells];
    let mut numbers = vec![0.0; rows];
    let mut labels: Vec<&str> = vec![""; rows];
    // Disjoint slices of the outputs, one per chunk, in order.
    let mut jobs = Vec::with_capacity(chunks.len());
    let (mut x_rest, mut n_rest, mut l_rest) = (&mut x[..], &mut numbers[..], &mut labels[..]);
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
    let mut all_numeric = true;
    for outcome in outcomes {
        all_numeric &= outcome?;
    }
    let targets = if all_numeric {
        Targets::Numbers(numbers)
    } else {
        Targets::Labels(labels)
    };
    Some(NumericBody { x, rows, targets })
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
    chunk
        .split('\n')
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
    for (row, line) in lines(chunk).enumerate() {
        // A `\r` inside a line ends a record for the general parser.
        if line.contains('\r') {
            return None;
        }
        let out = x.get_mut(row * d..(row + 1) * d)?;
        let mut cells = line.split(',');
        let mut j = 0;
        for field in 0..fields {
            let cell = cells.next()?.trim();
            if field == target {
                if cell.is_empty() {
                    return None;
                }
                *labels.get_mut(row)? = cell;
                match cell.parse::<f64>() {
                    Ok(v) => *numbers.get_mut(row)? = v,
                    Err(_) => numeric = false,
                }
            } else {
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => *out.get_mut(j)? = v,
                    _ => return None,
                }
                j += 1;
            }
        }
        if cells.next().is_some() {
            return None;
        }
    }
    Some(numeric)
}

#[cfg(test)]
mod tests {
    use super::*;

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
