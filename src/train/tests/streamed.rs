//! A file read as a stream (two passes, a block at a time) gives exactly the dataset, or
//! the error, that parsing its whole text gives: over many small blocks, with labels or
//! numbers, blank lines, `\r\n`, no final newline, and the files the fast reader hands to
//! the general parser.

use std::fmt::Write;
use std::path::Path;

use crate::models::Task;
use crate::train::parse::{parse_csv, parse_csv_within};
use crate::train::stream_csv::{load_request, stream, Request};
use crate::train::{Dataset, TrainError};

/// 64 KiB blocks: a 1.3 MB file crosses about twenty of them.
const BLOCK: usize = 64 << 10;

/// `rows` rows of 5 features and a target written by `target(i)`, above the fast reader's
/// 1 MiB threshold.
fn text(rows: usize, target: impl Fn(usize) -> String) -> String {
    let mut out = String::from("a,b,target,c,d,e\n");
    for i in 0..rows {
        let v = |k: usize| ((i * 7919 + k * 104_729) % 100_003) as f64 / 997.0 - 50.0;
        let _ = writeln!(
            out,
            "{},{:e},{},{},{:.3},{}",
            v(1),
            v(2),
            target(i),
            v(3),
            v(4),
            i % 13
        );
    }
    out
}

/// The load of `body` written to a file, the progress it reported, and whether the
/// streaming pass kept it (rather than handing it to a whole-text parse).
fn streamed(
    dir: &Path,
    body: &str,
    task: Task,
    limit: u64,
) -> (Result<Dataset, TrainError>, Vec<u64>, bool) {
    let file = dir.join("data.csv");
    std::fs::write(&file, body).unwrap();
    let mut reports = Vec::new();
    let req = Request {
        rel: "data.csv",
        file: &file,
        target: "target",
        class_names: None,
        task,
        max_load_bytes: limit,
        block: BLOCK,
    };
    let got = load_request(&req, &mut |n| reports.push(n)).map(|(_, d)| d);
    let kept = matches!(stream(&req, &mut |_| {}), Ok(Some(_)));
    (got, reports, kept)
}

fn assert_same(a: &Dataset, b: &Dataset) {
    assert_eq!(a.x.dim(), b.x.dim());
    assert!(a
        .x
        .iter()
        .zip(&b.x)
        .all(|(p, q)| p.to_bits() == q.to_bits()));
    assert!(a
        .y
        .iter()
        .zip(&b.y)
        .all(|(p, q)| p.to_bits() == q.to_bits()));
    assert_eq!(a.y.len(), b.y.len());
    assert_eq!(a.feature_names, b.feature_names);
    assert_eq!(a.target, b.target);
    assert_eq!(a.classes, b.classes);
}

#[test]
fn a_streamed_file_is_the_dataset_its_text_parses_to() {
    let dir = tempfile::tempdir().unwrap();
    let numbers = text(25_000, |i| format!("{}", (i % 97) as f64 * 0.25 - 3.0));
    let labels = text(25_000, |i| {
        ["setosa", "virginica", "versicolor"][i % 3].into()
    });
    let numeric_classes = text(25_000, |i| format!("{}", i % 4));
    let crlf = numbers.replace('\n', "\r\n");
    let blank_lines = numbers.replace("\n1", "\n\n1");
    let no_final_newline = numbers.trim_end().to_string();
    let cases = [
        (&numbers, Task::Regression),
        (&labels, Task::Classification),
        (&numeric_classes, Task::Classification),
        (&crlf, Task::Regression),
        (&blank_lines, Task::Regression),
        (&no_final_newline, Task::Regression),
    ];
    for (body, task) in cases {
        assert!(body.len() > 20 * BLOCK);
        let (got, reports, kept) = streamed(dir.path(), body, task, u64::MAX);
        let want = parse_csv(body, "target", None, task).unwrap();
        let got = got.unwrap();
        assert_same(&got, &want);
        assert!(kept);
        // The fingerprint was hashed as the file, and the whole text, were read: it is the
        // one computed from the finished dataset.
        let computed = Dataset {
            read_fingerprint: Default::default(),
            ..want.clone()
        }
        .fingerprint();
        assert_eq!(got.read_fingerprint.0, Some(computed.clone()));
        assert_eq!(want.read_fingerprint.0, Some(computed));
        // The first pass reports every block, up to the file's size.
        assert!(reports.windows(2).all(|w| w[0] < w[1]), "{reports:?}");
        assert_eq!(reports.last().copied(), Some(body.len() as u64));
        assert!(reports.len() > 20);
    }
}

#[test]
fn what_the_fast_reader_leaves_is_read_whole_with_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    // Numbers for the first blocks, then labels: the numbers' text is gone by then.
    let mixed = text(25_000, |i| {
        if i < 20_000 {
            format!("{}", i % 2)
        } else {
            "other".into()
        }
    });
    // A quoted cell: only the general parser reads quotes.
    let quoted = text(25_000, |i| {
        if i == 12_345 {
            "\"3\"".into()
        } else {
            format!("{}", i % 5)
        }
    });
    for (body, task) in [(&mixed, Task::Classification), (&quoted, Task::Regression)] {
        let (got, _, kept) = streamed(dir.path(), body, task, u64::MAX);
        let want = parse_csv(body, "target", None, task).unwrap();
        assert_same(&got.unwrap(), &want);
        assert!(!kept);
    }
}

#[test]
fn errors_name_the_same_row_as_a_whole_text_parse() {
    let dir = tempfile::tempdir().unwrap();
    let good = text(25_000, |i| format!("{}", i % 5));
    let mut lines: Vec<&str> = good.lines().collect();
    lines[20_001] = "1,2,3";
    let ragged = lines.join("\n");
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let rest = lines[15_001].split_once(',').map(|(_, r)| r.to_string());
    lines[15_001] = format!("NaN,{}", rest.unwrap());
    let nan = lines.join("\n");
    let label_for_regression = text(
        25_000,
        |i| if i == 19_999 { "x".into() } else { "1".into() },
    );
    for (body, task) in [
        (&ragged, Task::Regression),
        (&nan, Task::Regression),
        (&label_for_regression, Task::Regression),
    ] {
        let (got, _, _) = streamed(dir.path(), body, task, u64::MAX);
        let want = parse_csv(body, "target", None, task)
            .unwrap_err()
            .to_string();
        assert_eq!(got.unwrap_err().to_string(), want);
    }
    assert!(parse_csv(&ragged, "target", None, Task::Regression)
        .unwrap_err()
        .to_string()
        .contains("row 20000 has 3 fields"));
}

#[test]
fn the_budget_is_held_exactly_with_the_whole_text_message() {
    let dir = tempfile::tempdir().unwrap();
    let body = text(25_000, |i| format!("{}", i % 5));
    // The text plus 8 bytes a cell and 16 a row: just under what 25,002 counted lines need.
    let need = body.len() as u64 + 25_002 * (6 * 8 + 16);
    let (got, _, _) = streamed(dir.path(), &body, Task::Regression, need - 1);
    let want = parse_csv_within(&body, "target", None, Task::Regression, need - 1)
        .unwrap_err()
        .to_string();
    let got = got.unwrap_err();
    assert!(matches!(got, TrainError::OverBudget(_)), "{got}");
    assert_eq!(got.to_string(), want);
    assert!(streamed(dir.path(), &body, Task::Regression, need)
        .0
        .is_ok());
}

#[test]
fn a_file_rewritten_between_the_passes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let body = text(25_000, |i| format!("{}", i % 5));
    let file = dir.path().join("data.csv");
    let renamed_header = body.replacen("a,b", "z,b", 1);
    // Emptied, cut short inside the header, a same-length file with another header, and
    // one with another row: each written when the first pass has just finished.
    for rewrite in [
        "",
        "a,b,tar",
        renamed_header.as_str(),
        &body.replacen("\n1", "\n2", 1),
    ] {
        std::fs::write(&file, &body).unwrap();
        let req = Request {
            rel: "data.csv",
            file: &file,
            target: "target",
            class_names: None,
            task: Task::Regression,
            max_load_bytes: u64::MAX,
            block: BLOCK,
        };
        let mut progress = |n: u64| {
            if n == body.len() as u64 {
                std::thread::sleep(std::time::Duration::from_millis(5));
                std::fs::write(&file, rewrite).unwrap();
            }
        };
        let got = stream(&req, &mut progress);
        let err = got.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("changed while it was read"), "{err}");
    }
}
