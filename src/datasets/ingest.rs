//! The checks an uploaded CSV passes while it streams in, fed one chunk at a time with
//! nothing kept but the header and a fixed scratch buffer: UTF-8 text, a header of at
//! least two distinct, non-empty names, every record as wide as the header, at least one
//! record. Its SHA-256 is computed on the same pass.

use sha2::{Digest, Sha256};

/// A header wider than this is not a training table.
pub const MAX_COLUMNS: usize = 65_536;
/// The header line is kept (for the column names); past this it is refused.
const MAX_HEADER_BYTES: usize = 1 << 20;
/// Field bytes of data records are parsed into this and dropped: only their count matters.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Why an upload is not a usable CSV table. Each names the line where it can.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CsvError {
    #[error("the body is not UTF-8 text (byte {offset}); upload a CSV file")]
    NotText { offset: u64 },
    #[error("the body is empty; upload a CSV file with a header line")]
    Empty,
    #[error("the header has {0} column(s); a dataset needs at least two (features and a target)")]
    TooFewColumns(usize),
    #[error("the header has more than {MAX_COLUMNS} columns")]
    TooManyColumns,
    #[error("the header line is longer than {MAX_HEADER_BYTES} bytes")]
    HeaderTooLong,
    #[error("header column {0} has an empty name")]
    EmptyName(usize),
    #[error("the header names column `{0}` twice")]
    DuplicateName(String),
    #[error("line {line} has {found} field(s) where the header has {expected}")]
    Ragged {
        line: u64,
        found: usize,
        expected: usize,
    },
    #[error("the CSV has a header but no data rows")]
    NoRows,
}

/// What a complete, valid upload holds.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSummary {
    pub bytes: u64,
    pub rows: u64,
    pub columns: Vec<String>,
    pub sha256: String,
}

/// The streaming checker. `feed` each chunk as it arrives, then `finish`.
pub struct CsvIngest {
    reader: csv_core::Reader,
    hasher: Sha256,
    bytes: u64,
    /// Up to 3 bytes of a UTF-8 sequence cut by a chunk boundary.
    utf8_tail: Vec<u8>,
    /// The record being read: its field bytes (kept only for the header, with the field
    /// ends) and how many field ends were seen so far.
    scratch: Vec<u8>,
    header: Vec<u8>,
    header_ends: Vec<usize>,
    ends: Vec<usize>,
    fields: usize,
    /// The line the current record started on, from the `\n`s consumed before it.
    record_line: u64,
    newlines: u64,
    /// Between records: line ends are skipped and counted before the next one starts.
    at_record_start: bool,
    columns: Option<Vec<String>>,
    rows: u64,
}

impl Default for CsvIngest {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvIngest {
    pub fn new() -> Self {
        Self {
            reader: csv_core::Reader::new(),
            hasher: Sha256::new(),
            bytes: 0,
            utf8_tail: Vec::new(),
            scratch: vec![0; SCRATCH_BYTES],
            header: Vec::new(),
            header_ends: Vec::new(),
            ends: vec![0; 1024],
            fields: 0,
            record_line: 1,
            newlines: 0,
            at_record_start: true,
            columns: None,
            rows: 0,
        }
    }

    /// Bytes fed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks and hashes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        self.check_text(chunk)?;
        self.hasher.update(chunk);
        self.bytes = self.bytes.saturating_add(chunk.len() as u64);
        self.parse(chunk)
    }

    /// The end of the body: the last record, and the summary.
    pub fn finish(mut self) -> Result<CsvSummary, CsvError> {
        if !self.utf8_tail.is_empty() {
            return Err(CsvError::NotText {
                offset: self.bytes.saturating_sub(self.utf8_tail.len() as u64),
            });
        }
        self.parse(&[])?;
        let columns = self.columns.ok_or(CsvError::Empty)?;
        if self.rows == 0 {
            return Err(CsvError::NoRows);
        }
        Ok(CsvSummary {
            bytes: self.bytes,
            rows: self.rows,
            columns,
            sha256: hex(&self.hasher.finalize()),
        })
    }

    /// UTF-8 across chunk boundaries: an incomplete sequence at the end is carried over.
    fn check_text(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        let mut rest = chunk;
        if !self.utf8_tail.is_empty() {
            // Complete the cut sequence with at most 3 bytes of this chunk.
            let take = rest.len().min(4 - self.utf8_tail.len().min(4));
            let (head, tail) = rest.split_at(take);
            self.utf8_tail.extend_from_slice(head);
            match std::str::from_utf8(&self.utf8_tail) {
                Ok(_) => rest = tail,
                Err(e) if e.error_len().is_none() && tail.is_empty() => return Ok(()),
                Err(e) => {
                    let done = e.valid_up_to();
                    if done == 0 {
                        return Err(self.not_text(0));
                    }
                    // The cut sequence ended inside `head`; resume after it.
                    let used = done.saturating_sub(self.utf8_tail.len() - take);
                    rest = chunk.get(used..).unwrap_or_default();
                }
            }
            self.utf8_tail.clear();
        }
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                self.utf8_tail
                    .extend_from_slice(rest.get(e.valid_up_to()..).unwrap_or_default());
                Ok(())
            }
            Err(e) => {
                let at = (chunk.len() - rest.len()).saturating_add(e.valid_up_to());
                Err(self.not_text(at))
            }
        }
    }

    fn not_text(&self, at_in_chunk: usize) -> CsvError {
        CsvError::NotText {
            offset: self.bytes.saturating_add(at_in_chunk as u64),
        }
    }

    fn parse(&mut self, mut input: &[u8]) -> Result<(), CsvError> {
        use csv_core::ReadRecordResult as R;
        loop {
            if self.at_record_start && !input.is_empty() {
                // Line ends between records (a CRLF's `\n`, blank lines) are counted here,
                // so a record's line is where its first byte is.
                let skip = input
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(input.len());
                let (ends, rest) = input.split_at(skip);
                self.newlines = self.newlines.saturating_add(count_newlines(ends));
                input = rest;
                if input.is_empty() {
                    return Ok(());
                }
                self.record_line = self.newlines.saturating_add(1);
                self.at_record_start = false;
            }
            let (res, nin, nout, nend) =
                self.reader
                    .read_record(input, &mut self.scratch, &mut self.ends);
            let consumed = input.get(..nin).unwrap_or_default();
            self.newlines = self.newlines.saturating_add(count_newlines(consumed));
            input = input.get(nin..).unwrap_or_default();
            if self.columns.is_none() {
                if self.header.len().saturating_add(nout) > MAX_HEADER_BYTES {
                    return Err(CsvError::HeaderTooLong);
                }
                self.header
                    .extend_from_slice(self.scratch.get(..nout).unwrap_or_default());
                self.header_ends
                    .extend_from_slice(self.ends.get(..nend).unwrap_or_default());
            }
            self.fields = self.fields.saturating_add(nend);
            if self.fields > MAX_COLUMNS {
                return Err(self.too_wide());
            }
            match res {
                R::InputEmpty | R::End => return Ok(()),
                // The scratch and the ends buffer are reused: what mattered is counted.
                R::OutputFull | R::OutputEndsFull => {}
                R::Record => {
                    self.end_record()?;
                    self.at_record_start = true;
                }
            }
        }
    }

    fn too_wide(&self) -> CsvError {
        match &self.columns {
            None => CsvError::TooManyColumns,
            Some(columns) => CsvError::Ragged {
                line: self.record_line,
                found: self.fields,
                expected: columns.len(),
            },
        }
    }

    fn end_record(&mut self) -> Result<(), CsvError> {
        let found = std::mem::take(&mut self.fields);
        match &self.columns {
            None => self.columns = Some(self.header_names()?),
            Some(columns) if columns.len() != found => {
                return Err(CsvError::Ragged {
                    line: self.record_line,
                    found,
                    expected: columns.len(),
                })
            }
            Some(_) => self.rows = self.rows.saturating_add(1),
        }
        Ok(())
    }

    fn header_names(&mut self) -> Result<Vec<String>, CsvError> {
        let mut names = Vec::with_capacity(self.header_ends.len());
        let mut start = 0;
        for &end in &self.header_ends {
            let field = self.header.get(start..end).unwrap_or_default();
            names.push(String::from_utf8_lossy(field).into_owned());
            start = end;
        }
        // csv_core strips a byte-order mark only when it arrives in one piece.
        if let Some(first) = names.first_mut() {
            if let Some(rest) = first.strip_prefix('\u{feff}') {
                *first = rest.to_string();
            }
        }
        if names.len() < 2 {
            return Err(CsvError::TooFewColumns(names.len()));
        }
        if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
            return Err(CsvError::EmptyName(i));
        }
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(CsvError::DuplicateName(dup.clone()));
        }
        self.header = Vec::new();
        self.header_ends = Vec::new();
        Ok(names)
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest_in_chunks(body: &[u8], chunk: usize) -> Result<CsvSummary, CsvError> {
        let mut ingest = CsvIngest::new();
        for piece in body.chunks(chunk.max(1)) {
            ingest.feed(piece)?;
        }
        ingest.finish()
    }

    #[test]
    fn counts_rows_and_columns_whatever_the_chunking() {
        let body = "a,b,label\n1,2,x\n\"3\",\"4,5\",\"multi\nline é\"\n6,7,é\n".as_bytes();
        let whole = ingest_in_chunks(body, body.len()).unwrap();
        assert_eq!(whole.rows, 3);
        assert_eq!(whole.columns, ["a", "b", "label"]);
        assert_eq!(whole.bytes, body.len() as u64);
        assert_eq!(whole.sha256, hex(&Sha256::digest(body)));
        for chunk in [1, 2, 3, 5, 7] {
            assert_eq!(
                ingest_in_chunks(body, chunk).unwrap(),
                whole,
                "chunk {chunk}"
            );
        }
        // No final newline, CRLF endings and a BOM are all the same table.
        let crlf = "\u{feff}a,b,label\r\n1,2,x\r\n3,4,y";
        let s = ingest_in_chunks(crlf.as_bytes(), 2).unwrap();
        assert_eq!((s.rows, s.columns.len()), (2, 3));
        assert_eq!(s.columns[0], "a");
    }

    #[test]
    fn names_the_ragged_line_after_crlf_blank_lines_and_quoted_newlines() {
        let crlf = b"a,b,c\r\n1,2,3\r\n\r\n4,5\r\n";
        let quoted = b"a,b,c\n1,\"x\ny\",3\n\n\n4,5\n";
        for (body, line) in [(&crlf[..], 4), (&quoted[..], 6)] {
            for chunk in [1, 3, 100] {
                assert_eq!(
                    ingest_in_chunks(body, chunk),
                    Err(CsvError::Ragged {
                        line,
                        found: 2,
                        expected: 3
                    }),
                    "{} in chunks of {chunk}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn names_the_ragged_line() {
        let body = b"a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n";
        for chunk in [1, 4, 100] {
            assert_eq!(
                ingest_in_chunks(body, chunk),
                Err(CsvError::Ragged {
                    line: 4,
                    found: 2,
                    expected: 3
                }),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_table() {
        assert_eq!(ingest_in_chunks(b"", 10), Err(CsvError::Empty));
        assert_eq!(ingest_in_chunks(b"a,b\n", 10), Err(CsvError::NoRows));
        assert_eq!(
            ingest_in_chunks(b"justone\n1\n", 10),
            Err(CsvError::TooFewColumns(1))
        );
        assert_eq!(
            ingest_in_chunks(b"a,a\n1,2\n", 10),
            Err(CsvError::DuplicateName("a".into()))
        );
        assert_eq!(
            ingest_in_chunks(b"a, \n1,2\n", 10),
            Err(CsvError::EmptyName(1))
        );
        let binary = [b'a', b',', b'b', b'\n', 0xff, 0xfe, b'\n'];
        assert_eq!(
            ingest_in_chunks(&binary, 3),
            Err(CsvError::NotText { offset: 4 })
        );
        // A multi-byte character cut at the very end.
        let cut = "a,b\n1,é".as_bytes();
        assert!(matches!(
            ingest_in_chunks(&cut[..cut.len() - 1], 2),
            Err(CsvError::NotText { .. })
        ));
        let wide = (0..=MAX_COLUMNS)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>();
        let header = format!("{}\n", wide.join(","));
        assert_eq!(
            ingest_in_chunks(header.as_bytes(), 4096),
            Err(CsvError::TooManyColumns)
        );
    }
}
