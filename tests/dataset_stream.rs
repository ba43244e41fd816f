//! A large dataset upload to the real binary streams into the store with flat memory:
//! the server's peak resident set grows by a few MiB for a body of 256 MiB (1 GB with
//! `LONG_TESTS=1`), and the stored SHA-256 is the one the client computed while sending.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{http_typed, modeld, start};

/// `VmRSS` or `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Rows of a 4-column table, generated as they are sent.
fn rows(from: u64, bytes: usize) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(bytes + 64);
    let mut i = from;
    while out.len() < bytes {
        writeln!(
            out,
            "{i},{},{:.3},{}",
            i * 2 % 1000,
            (i % 97) as f64 / 7.0,
            i % 3
        )
        .unwrap();
        i += 1;
    }
    (out, i - from)
}

#[test]
fn a_large_upload_streams_into_the_store_with_flat_memory() {
    if !cfg!(target_os = "linux") {
        println!("skipped: reads /proc");
        return;
    }
    let total: usize = if std::env::var_os("LONG_TESTS").is_some() {
        1_000_000_000
    } else {
        256 << 20
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start(&mut modeld(dir.path()));
    let (addr, pid) = (server.addr.clone(), server.guard.0.id());
    // A first small upload: whatever the path allocates once is in the baseline.
    let (status, text) = http_typed(
        &addr,
        "PUT",
        "/v1/datasets/warm",
        "text/csv",
        Some("a,b\n1,2\n"),
    );
    assert_eq!(status, 201, "{text}");
    let baseline = memory_kib(pid, "VmRSS");

    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(
        s,
        "PUT /v1/datasets/big HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/csv\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut hasher = Sha256::new();
    let mut sent = 0usize;
    let mut sent_rows = 0u64;
    let header = b"id,code,score,label\n".to_vec();
    let mut next = Some(header);
    while let Some(piece) = next.take() {
        hasher.update(&piece);
        sent += piece.len();
        write!(s, "{:x}\r\n", piece.len()).unwrap();
        s.write_all(&piece).unwrap();
        s.write_all(b"\r\n").unwrap();
        if sent < total {
            let (chunk, n) = rows(sent_rows, 1 << 20);
            sent_rows += n;
            next = Some(chunk);
        }
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&mut s).read_to_string(&mut reply).unwrap();
    let status_line = reply.lines().next().unwrap_or_default().to_string();
    assert!(status_line.contains(" 201 "), "{reply}");
    let body: Value = serde_json::from_str(reply.split_once("\r\n\r\n").unwrap().1).unwrap();
    let peak = memory_kib(pid, "VmHWM");

    assert_eq!(body["bytes"], sent as u64);
    assert_eq!(body["rows"], sent_rows);
    assert_eq!(body["columns"], 4);
    let sha: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(body["sha256"], sha);
    let grew_mib = peak.saturating_sub(baseline) as f64 / 1024.0;
    println!(
        "uploaded {} MiB: resident {} MiB before, peak {} MiB (+{grew_mib:.1} MiB)",
        sent >> 20,
        baseline / 1024,
        peak / 1024
    );
    assert!(
        grew_mib <= 16.0,
        "a {} MiB upload grew the peak resident set by {grew_mib:.1} MiB",
        sent >> 20
    );
    // The stored object is the whole body.
    let objects = dir.path().join("data/models/_datasets/objects");
    let sizes: Vec<u64> = std::fs::read_dir(&objects)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(sizes.contains(&(sent as u64)), "{sizes:?}");
}

#[test]
fn an_upload_cut_off_midway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&mut modeld(dir.path()));
    let addr = server.addr.clone();
    let objects = dir.path().join("data/models/_datasets/objects");
    let files = || -> Vec<String> {
        std::fs::read_dir(&objects)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "PUT /v1/datasets/cut HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/csv\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        let (mut chunk, _) = rows(0, 3 << 20);
        chunk.splice(0..0, b"id,code,score,label\n".iter().copied());
        write!(s, "{:x}\r\n", chunk.len()).unwrap();
        s.write_all(&chunk).unwrap();
        s.write_all(b"\r\n").unwrap();
        // The upload is under way: its temporary object exists.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while files().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!files().is_empty(), "the upload never started writing");
    } // The client goes away mid-body.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !files().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(files(), Vec::<String>::new(), "a cut-off upload left files");
    let (status, text) = support::http(&addr, "GET", "/v1/datasets/cut", None);
    assert_eq!(status, 404, "{text}");
}
