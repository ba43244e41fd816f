//! The frame around the fast reader ([`fast_csv`]) for a plain numeric CSV: its header
//! line, the blocks of lines it is read in ([`BlockReader`], for a whole text
//! ([`parse_plain_csv`]) and for a file read as a stream ([`super::stream_csv`]) alike),
//! and the dataset made from the parsed rows. Everything here answers `None` for "let the
//! general parser read it", which then also names what is wrong.

use std::collections::{HashMap, HashSet};

use ndarray::Array2;

use super::assemble::Assembler;
use super::data_file::READ_BLOCK;
use super::fast_csv::{self, ParsedRows, Targets};
use super::fingerprint::ReadFingerprint;
use super::labels::{encode_numeric, encode_strings};
use super::{Dataset, TrainError};
use crate::models::Task;

/// The header's names without the target column's: the features, in file order.
pub(super) fn all_but(header: &[String], target: usize) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != target)
        .map(|(_, h)| h.clone())
        .collect()
}

pub(super) fn check_names(names: &[String], what: &str) -> Result<(), TrainError> {
    let mut seen = HashSet::new();
    match names.iter().find(|n| !seen.insert(n.as_str())) {
        Some(dup) => Err(TrainError::data(format!("duplicate {what} `{dup}`"))),
        None => Ok(()),
    }
}

/// The header line of a plain CSV: its trimmed names and the target's column.
pub(super) fn plain_header(line: &str, target: &str) -> Option<(Vec<String>, usize)> {
    let fields = line.trim_end_matches(['\r', '\n']);
    if fields.contains('\r') {
        return None;
    }
    let header: Vec<String> = fields.split(',').map(|h| h.trim().to_string()).collect();
    let t_idx = header.iter().position(|h| h == target)?;
    check_names(&header, "CSV column").ok()?;
    Some((header, t_idx))
}

/// The dataset of `rows` parsed rows (`x` row-major, the target column left out).
struct PlainRows<'a> {
    pub x: Vec<f64>,
    pub rows: usize,
    pub targets: Targets<'a>,
}

/// The dataset of `parsed`, when its targets suit `task`.
fn plain_dataset(
    parsed: PlainRows<'_>,
    header: &[String],
    t_idx: usize,
    class_names: Option<&[String]>,
    task: Task,
) -> Option<Dataset> {
    if parsed.rows == 0 {
        return None;
    }
    let feature_names = all_but(header, t_idx);
    let x = Array2::from_shape_vec((parsed.rows, feature_names.len()), parsed.x).ok()?;
    let (y, classes) = match (task, parsed.targets) {
        (Task::Regression, Targets::Numbers(y)) if y.iter().all(|v| v.is_finite()) => (y, None),
        (Task::Regression, _) => return None,
        (Task::Classification, Targets::Numbers(nums)) => {
            let (y, c) = encode_numeric(&nums, class_names).ok()?;
            (y, Some(c))
        }
        (Task::Classification, Targets::Labels(labels)) => {
            let (y, c) = encode_strings(&labels, class_names).ok()?;
            (y, Some(c))
        }
    };
    Some(Dataset {
        x,
        y,
        feature_names,
        target: header.get(t_idx)?.clone(),
        classes,
        read_fingerprint: Default::default(),
    })
}

/// The parallel fast path ([`fast_csv`]) for a plain numeric text, or `None` when it is
/// anything else or has anything wrong with it. Read a block of lines at a time, as a
/// file is ([`BlockReader`]), so that its values are hashed as they are parsed.
pub(super) fn parse_plain_csv(
    text: &str,
    target: &str,
    class_names: Option<&[String]>,
    task: Task,
    min_bytes: usize,
) -> Option<Dataset> {
    if text.len() < min_bytes || memchr::memchr(b'"', text.as_bytes()).is_some() {
        return None;
    }
    let header_end = memchr::memchr(b'\n', text.as_bytes())?;
    let (header_line, body) = (text.get(..=header_end)?, text.get(header_end + 1..)?);
    let (header, t_idx) = plain_header(header_line, target)?;
    // Every line a row at most: the matrix is reserved once and never moved.
    let lines = memchr::memchr_iter(b'\n', body.as_bytes()).count() + 1;
    let max_cells = lines.checked_mul(header.len().checked_sub(1)?)?;
    let mut x = Vec::new();
    x.try_reserve_exact(max_cells).ok()?;
    std::thread::scope(|scope| {
        let mut reader = BlockReader::start(scope, x, max_cells, &header, t_idx, task);
        for lines in whole_lines(body, READ_BLOCK) {
            if !reader.add(lines) {
                return None;
            }
        }
        reader.finish(class_names)
    })
}

/// `text` in pieces of about `bytes` each, every one ending just after a `\n` (the last at
/// the end).
fn whole_lines(text: &str, bytes: usize) -> impl Iterator<Item = &str> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let rest = text.get(start..).filter(|r| !r.is_empty())?;
        let guess = bytes.max(1).min(rest.len());
        let end = memchr::memchr(b'\n', rest.as_bytes().get(guess..).unwrap_or_default())
            .map_or(rest.len(), |i| guess + i + 1);
        start += end;
        rest.get(..end)
    })
}

/// A plain CSV's body read a block of whole lines at a time: each block parsed on all
/// cores by the fast reader into a buffer that the [`Assembler`] appends to the matrix and
/// hashes, on its own thread, while the next block is parsed; the targets collected.
pub(super) struct BlockReader<'scope, 'h> {
    assembler: Assembler<'scope>,
    targets: Collected,
    cells: usize,
    max_cells: usize,
    header: &'h [String],
    t_idx: usize,
    task: Task,
}

impl<'scope, 'h> BlockReader<'scope, 'h> {
    /// Onto `x`, reserved for `max_cells` values.
    pub fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        x: Vec<f64>,
        max_cells: usize,
        header: &'h [String],
        t_idx: usize,
        task: Task,
    ) -> Self {
        BlockReader {
            assembler: Assembler::start(scope, x),
            targets: Collected::Empty,
            cells: 0,
            max_cells,
            header,
            t_idx,
            task,
        }
    }

    /// Values parsed so far.
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// Parses `lines` (whole lines); false when the fast reader does not take them.
    pub fn add(&mut self, lines: &str) -> bool {
        let mut block = self.assembler.buffer();
        let kept = fast_csv::parse_into(lines, self.header.len(), self.t_idx, &mut block)
            .is_some_and(|rows| self.targets.add(rows, self.task));
        self.cells = self.cells.saturating_add(block.len());
        if !kept || self.cells > self.max_cells {
            return false;
        }
        self.assembler.push(block);
        true
    }

    /// The dataset of every block added, with the fingerprint hashed as it was read.
    pub fn finish(mut self, class_names: Option<&[String]>) -> Option<Dataset> {
        let (x, hash) = self.assembler.finish()?;
        let rows = x.len().checked_div(self.header.len().saturating_sub(1))?;
        let targets = self.targets.finish()?;
        let parsed = PlainRows { x, rows, targets };
        let mut data = plain_dataset(parsed, self.header, self.t_idx, class_names, self.task)?;
        data.read_fingerprint = ReadFingerprint(Some(hash.finish(&data)));
        Some(data)
    }
}

/// Distinct string labels kept while streaming; a file with more is read whole (such a
/// target is rarely a class, and interning it would cost more than its text).
const MAX_STREAMED_LABELS: usize = 65_536;

/// Bytes of distinct labels kept while streaming, beyond which the file is read whole.
const MAX_STREAMED_LABEL_BYTES: usize = 16 << 20;

/// The targets of the blocks parsed so far.
pub(super) enum Collected {
    Empty,
    Numbers(Vec<f64>),
    /// Interned string labels, each stored once (the key), and each row's label id.
    Labels {
        ids: HashMap<String, u32>,
        bytes: usize,
        rows: Vec<u32>,
    },
}

impl Collected {
    /// Adds a block's targets; false when the fast path cannot keep them: a label after
    /// numbers (the numbers' text is gone), a label for a regression, too many labels.
    pub(super) fn add(&mut self, block: ParsedRows<'_>, task: Task) -> bool {
        if block.rows == 0 {
            return true;
        }
        if matches!(self, Collected::Empty) {
            *self = match (block.numeric, task) {
                (true, _) => Collected::Numbers(Vec::new()),
                (false, Task::Classification) => Collected::Labels {
                    ids: HashMap::new(),
                    bytes: 0,
                    rows: Vec::new(),
                },
                (false, Task::Regression) => return false,
            };
        }
        match self {
            Collected::Empty => false,
            Collected::Numbers(numbers) => {
                numbers.extend_from_slice(&block.numbers);
                block.numeric
            }
            Collected::Labels { ids, bytes, rows } => {
                for label in block.labels {
                    let id = match ids.get(label) {
                        Some(&id) => id,
                        None if ids.len() < MAX_STREAMED_LABELS
                            && *bytes + label.len() <= MAX_STREAMED_LABEL_BYTES =>
                        {
                            let id = ids.len() as u32;
                            *bytes += label.len();
                            ids.insert(label.to_string(), id);
                            id
                        }
                        None => return false,
                    };
                    rows.push(id);
                }
                true
            }
        }
    }

    pub(super) fn finish(&mut self) -> Option<Targets<'_>> {
        match self {
            Collected::Empty => None,
            Collected::Numbers(numbers) => Some(Targets::Numbers(std::mem::take(numbers))),
            Collected::Labels { ids, rows, .. } => {
                let mut names = vec![""; ids.len()];
                for (label, &id) in ids.iter() {
                    *names.get_mut(id as usize)? = label.as_str();
                }
                rows.iter()
                    .map(|&id| names.get(id as usize).copied())
                    .collect::<Option<Vec<_>>>()
                    .map(Targets::Labels)
            }
        }
    }
}
