//! Loading a data file without holding its text, so that a load's peak is the parsed
//! matrix plus two read blocks rather than the text and the matrix together (1M × 20:
//! 190 MB of text next to 160 MB of values).
//!
//! Two passes over the file. The first reads it a block at a time, reporting progress, and
//! counts its lines: that bounds the rows, so the budget is checked exactly and the matrix
//! is allocated once, before anything is parsed. The second reads it again (from the page
//! cache, for a file that fits in memory) and parses each block's whole lines with the fast
//! reader into a block buffer, which a second thread ([`super::assemble`]) appends to the
//! matrix and hashes for the fingerprint while the next blocks are parsed. A file the fast
//! reader does not take (small,
//! quoted, a ragged row, a bad value, targets it cannot keep) is read whole and parsed by
//! the general parser instead, which also writes the error message, so errors are the same
//! whichever way a file is read. A file rewritten between or during the passes is refused.

use std::io::{Read, Seek};
use std::path::Path;

use super::data_file::{
    changed, check_file_size, file_stamp, io_error, read_resolved, stamp_of, ReadProgress,
    READ_BLOCK,
};
use super::fast_csv;
use super::parse::{load_bytes, over_budget, parse_csv_within};
use super::plain_csv::{plain_header, BlockReader};
use super::{cancel, Dataset, TrainError};
use crate::models::Task;

/// The file's stamp and its dataset, parsed as the module docs say, holding the load to
/// `max_load_bytes` as [`parse_csv_within`] does.
pub(super) fn load_file(
    rel: &str,
    file: &Path,
    target: &str,
    class_names: Option<&[String]>,
    task: Task,
    progress: ReadProgress,
    max_load_bytes: u64,
) -> Result<(String, Dataset), TrainError> {
    let request = Request {
        rel,
        file,
        target,
        class_names,
        task,
        max_load_bytes,
        block: READ_BLOCK,
    };
    load_request(&request, progress)
}

/// [`load_file`] of `req`.
pub(super) fn load_request(
    req: &Request,
    progress: ReadProgress,
) -> Result<(String, Dataset), TrainError> {
    // A small file (or one that cannot be read: the whole read names the error) is read
    // once, whole, as the general parser would read it anyway.
    let large =
        std::fs::metadata(req.file).is_ok_and(|m| m.len() >= fast_csv::MIN_PARALLEL_BYTES as u64);
    let mut quiet = |_: u64| {};
    let report: ReadProgress = if large {
        if let Some(done) = stream(req, &mut *progress)? {
            return Ok(done);
        }
        // What the second pass had filled is freed: hand it back before the text and a
        // new matrix are allocated. Progress already reached the size in the first pass.
        crate::memory::release_freed_memory();
        &mut quiet
    } else {
        progress
    };
    let (stamp, text) = read_resolved(req.rel, req.file, report, req.max_load_bytes)?;
    let parsed = parse_csv_within(
        &text,
        req.target,
        req.class_names,
        req.task,
        req.max_load_bytes,
    )?;
    Ok((stamp, parsed))
}

pub(super) struct Request<'a> {
    pub rel: &'a str,
    pub file: &'a Path,
    pub target: &'a str,
    pub class_names: Option<&'a [String]>,
    pub task: Task,
    pub max_load_bytes: u64,
    /// Bytes read at a time ([`READ_BLOCK`]; smaller in tests, to cross many blocks).
    pub block: usize,
}

/// What the first pass found.
struct Counted {
    /// The open file's stamp when the pass began.
    stamp: String,
    len: u64,
    newlines: u64,
    quoted: bool,
    /// The first block, which holds the header line of any file the fast reader takes.
    head: Vec<u8>,
}

/// `Ok(None)`: read the file whole instead.
pub(super) fn stream(
    req: &Request,
    progress: ReadProgress,
) -> Result<Option<(String, Dataset)>, TrainError> {
    let io = |e| io_error(req.rel, e);
    let (mut handle, counted) = count_lines(req, progress)?;
    let header_end = memchr::memchr(b'\n', &counted.head).filter(|_| !counted.quoted);
    let Some(header_end) = header_end else {
        return Ok(None);
    };
    let header_line = counted.head.get(..=header_end).unwrap_or_default();
    let Some((header, t_idx)) = std::str::from_utf8(header_line)
        .ok()
        .and_then(|line| plain_header(line, req.target))
    else {
        return Ok(None);
    };
    // The budget and its message are a whole-text parse's (the header is plain: its
    // fields are the csv reader's).
    let rows_bound = counted.newlines + 1;
    let fields = header.len() as u64;
    if load_bytes(counted.len, rows_bound, fields) > req.max_load_bytes {
        let (len, limit) = (counted.len, req.max_load_bytes);
        return Err(over_budget("the data", len, rows_bound, fields, limit));
    }
    let d = header.len().saturating_sub(1);
    let max_cells = usize::try_from(rows_bound)
        .ok()
        .and_then(|rows| rows.checked_mul(d))
        .ok_or_else(|| TrainError::data(format!("`{}` has too many rows", req.rel)))?;
    let mut x = Vec::new();
    x.try_reserve_exact(max_cells).map_err(|_| {
        TrainError::data(format!(
            "no memory to parse `{}` ({max_cells} values)",
            req.rel
        ))
    })?;
    // The same open file as the first pass, from its start.
    handle.rewind().map_err(io)?;
    let ready = Ready {
        counted: &counted,
        columns: d,
        header_end,
        max_cells,
    };
    // The blocks are put together, and hashed for the fingerprint, beside the parse.
    std::thread::scope(|scope| {
        let reader = BlockReader::start(scope, x, max_cells, &header, t_idx, req.task);
        parse_pass(req, &mut handle, &ready, reader)
    })
}

/// What the first pass and the header settled for the second.
struct Ready<'a> {
    counted: &'a Counted,
    /// Feature columns.
    columns: usize,
    header_end: usize,
    max_cells: usize,
}

/// The second pass: parses the file's rows a block at a time with `reader`, which puts
/// the matrix (of at most `max_cells`) together and hashes it. `Ok(None)`: read the file
/// whole instead.
fn parse_pass(
    req: &Request,
    handle: &mut std::fs::File,
    ready: &Ready,
    mut reader: BlockReader,
) -> Result<Option<(String, Dataset)>, TrainError> {
    let io = |e| io_error(req.rel, e);
    let Ready {
        counted,
        columns: d,
        header_end,
        max_cells,
    } = *ready;
    let mut buf: Vec<u8> = Vec::with_capacity(2 * req.block);
    let (mut total, mut header_left) = (0u64, header_end + 1);
    loop {
        if cancel::requested() {
            return Err(TrainError::Cancelled);
        }
        let carried = buf.len();
        let n = (&mut *handle)
            .take(req.block as u64)
            .read_to_end(&mut buf)
            .map_err(io)?;
        total += n as u64;
        // Longer, or a header unlike the first pass's: rewritten in between.
        let same_header = buf.get(..header_left) == counted.head.get(..header_left);
        if total > counted.len || (header_left > 0 && !same_header) {
            return Err(changed(req.rel));
        }
        // Only the new bytes can hold a line end: the carried tail has none.
        let new_bytes = buf.get(carried..).unwrap_or_default();
        let end = match (n, memchr::memrchr(b'\n', new_bytes)) {
            (0, _) => buf.len(),
            (_, Some(last)) => carried + last + 1,
            // A line longer than a block: read on (the file's length bounds the buffer).
            (_, None) => continue,
        };
        let Some(lines) = buf.get(header_left..end) else {
            return Err(changed(req.rel));
        };
        header_left = 0;
        // More lines than the first pass counted: the file was rewritten in between.
        let newlines = memchr::memchr_iter(b'\n', lines).count();
        if reader.cells() / d.max(1) + newlines + 1 > max_cells / d.max(1) {
            return Err(changed(req.rel));
        }
        let Ok(text) = std::str::from_utf8(lines) else {
            return Ok(None);
        };
        if !reader.add(text) {
            return Ok(None);
        }
        buf.drain(..end);
        if n == 0 {
            break;
        }
    }
    // The file read is still the one at the path, unchanged since the first pass began.
    let read_stamp = handle.metadata().and_then(|m| stamp_of(&m)).map_err(io)?;
    let after = file_stamp(req.file).map_err(io)?;
    if read_stamp != counted.stamp || after != counted.stamp || total != counted.len {
        return Err(changed(req.rel));
    }
    Ok(reader.finish(req.class_names).map(|d| (after, d)))
}

/// The first pass: the file's length, lines and quotes, and its first block, with the open
/// file for the second. The length is held to the budget before anything else, as
/// [`read_resolved`] does.
fn count_lines(
    req: &Request,
    progress: ReadProgress,
) -> Result<(std::fs::File, Counted), TrainError> {
    let io = |e| io_error(req.rel, e);
    let mut handle = std::fs::File::open(req.file).map_err(io)?;
    let meta = handle.metadata().map_err(io)?;
    let len = meta.len();
    check_file_size(req.rel, len, req.max_load_bytes)?;
    let mut counted = Counted {
        stamp: stamp_of(&meta).map_err(io)?,
        len,
        newlines: 0,
        quoted: false,
        head: Vec::new(),
    };
    let mut block = Vec::with_capacity(req.block);
    let mut read = 0u64;
    loop {
        if cancel::requested() {
            return Err(TrainError::Cancelled);
        }
        block.clear();
        let n = (&mut handle)
            .take(req.block as u64)
            .read_to_end(&mut block)
            .map_err(io)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if read > len {
            return Err(changed(req.rel));
        }
        counted.newlines += memchr::memchr_iter(b'\n', &block).count() as u64;
        counted.quoted |= memchr::memchr(b'"', &block).is_some();
        if counted.head.is_empty() {
            counted.head.extend_from_slice(&block);
        }
        progress(read);
    }
    Ok((handle, counted))
}
