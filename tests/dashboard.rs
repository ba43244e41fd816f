//! The embedded dashboard: its files are served from the binary, open even when an API
//! key guards the JSON API, with headers that forbid inline script; and, in Debian's
//! chromium driven by tests/dashboard/drive.py (playwright), it shows what the API says,
//! moves an alias, and renders HTML inside names as text.
//!
//! The browser test needs `$INTEROP_PYTHON` (default .venv/bin/python, made by
//! scripts/setup-python.sh) with playwright, and /usr/bin/chromium (or `$CHROMIUM`).
//! Without them it prints a loud SKIP and passes; with `REQUIRE_INTEROP=1` (CI) it fails.
//! `UPDATE_SCREENSHOTS=1` writes its screenshots to docs/img/.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{modeld, start};

const KEY: &str = "dashboard-test-key";

/// (status, lower-cased head, body) of one GET, with or without the key.
fn get(addr: &str, path: &str, key: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn server(dir: &Path) -> support::Running {
    start(modeld(dir).env("MODELD_SERVER__API_KEY", KEY))
}

#[test]
fn the_page_and_its_files_come_from_the_binary_open_and_locked_down() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path());
    for path in [
        "/",
        "/ui",
        "/ui/",
        "/ui/models/iris/curves",
        "/ui/models/iris.v2",
    ] {
        let (status, head, body) = get(&s.addr, path, None);
        assert_eq!(status, 200, "{path}");
        assert!(head.contains("content-type: text/html"), "{path}: {head}");
        assert!(body.contains(r#"<script type="module" src="/ui/app.js">"#));
        assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self';"));
        assert!(head.contains("x-content-type-options: nosniff"));
    }
    let (status, head, body) = get(&s.addr, "/ui/runs.js", None);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(body.contains("export function renderRuns"));
    let (status, head, _) = get(&s.addr, "/ui/favicon.svg", None);
    assert_eq!((status, head.contains("image/svg+xml")), (200, true));

    let (status, _, body) = get(&s.addr, "/ui/secret.env", None);
    assert_eq!(status, 404);
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["code"], "not_found");
    // The data stays behind the key: the page asks for it when the API says 401.
    assert_eq!(get(&s.addr, "/v1/models", None).0, 401);
    assert_eq!(get(&s.addr, "/v1/models", Some(KEY)).0, 200);
    assert_eq!(get(&s.addr, "/uix", None).0, 401);
}

fn python() -> PathBuf {
    match std::env::var_os("INTEROP_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    }
}

/// Why the browser test cannot run here, if it cannot.
fn missing(py: &Path, chromium: &Path) -> Option<String> {
    if !chromium.exists() {
        return Some(format!("{} is not installed", chromium.display()));
    }
    match Command::new(py)
        .args(["-c", "import playwright.sync_api"])
        .output()
    {
        Err(e) => Some(format!("cannot run {}: {e}", py.display())),
        Ok(o) if !o.status.success() => Some(format!("{} lacks playwright", py.display())),
        Ok(_) => None,
    }
}

#[test]
fn a_person_in_chromium_sees_the_runs_curves_and_drift_and_can_promote() {
    let py = python();
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    if let Some(why) = missing(&py, &chromium) {
        if std::env::var("REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("the browser test is required (REQUIRE_INTEROP=1) but {why}");
        }
        eprintln!("\n!!!!!!!! SKIPPED dashboard browser test: {why}\n!!!!!!!! install chromium and run scripts/setup-python.sh to enable it\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        modeld(dir.path())
            .env("MODELD_SERVER__API_KEY", KEY)
            .env("MODELD_MONITORING__DRIFT_MIN_ROWS", "50"),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = match std::env::var("UPDATE_SCREENSHOTS").as_deref() {
        Ok("1") => root.join("docs/img"),
        _ => dir.path().join("screenshots"),
    };
    let out = Command::new(&py)
        .arg(root.join("tests/dashboard/drive.py"))
        .args([&format!("http://{}", s.addr), KEY])
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("passed"),
        "drive.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the script measured: the runs table of 200 versions, rendered and laid out.
    let measured: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    let render = &measured["runs_render"];
    assert_eq!(render["rows"], 200, "{measured}");
    eprintln!("runs table, 200 versions: {measured}");
    for view in ["models", "runs", "curves", "monitoring"] {
        assert!(
            shots.join(format!("dashboard-{view}.png")).exists(),
            "{view}"
        );
    }
    // The UI's promotion and rollback went through the API: production is back on v1.
    let (status, _, body) = get(&s.addr, "/v1/models/flowers", Some(KEY));
    assert_eq!(status, 200);
    let model: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(model["aliases"]["production"], 1);
}
