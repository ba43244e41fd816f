//! The real `modelctl` binary against the real `modeld` on loopback: every command, its
//! tables and `--json`, its exit codes (0, 1 for API errors, 2 for bad input), the
//! messages for an unreachable server and a wrong key, and the progress bar in a
//! pseudo-terminal.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{free_port, http, modeld, wait_listening, wait_ready, Guard};

/// A server on a free loopback port, with extra environment settings.
fn server(dir: &Path, env: &[(&str, &str)]) -> (Guard, String) {
    let mut cmd = modeld(dir);
    cmd.args(["--host", "127.0.0.1", "--port", "0"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let addr = wait_listening(&mut child);
    wait_ready(&addr);
    (Guard(child), addr)
}

/// `modelctl --url http://addr ARGS`, without the developer's own MODELD_* settings.
fn modelctl(addr: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelctl"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("MODELD_")) {
        cmd.env_remove(key);
    }
    cmd.arg("--url").arg(format!("http://{addr}")).args(args);
    cmd
}

fn run(addr: &str, args: &[&str]) -> Output {
    modelctl(addr, args).stdin(Stdio::null()).output().unwrap()
}

fn run_with_stdin(addr: &str, args: &[&str], input: &str) -> Output {
    let mut child = modelctl(addr, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn ok_json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn iris_csv() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data/iris.csv"),
    )
    .unwrap()
}

#[test]
fn train_then_list_predict_promote_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(dir.path(), &[]);
    let data = dir.path().join("iris.csv");
    std::fs::write(&data, iris_csv()).unwrap();
    let data = data.to_str().unwrap();

    // Not a terminal: no bar, a summary naming the new version.
    let out = run(
        &addr,
        &[
            "train",
            "iris",
            "--algorithm",
            "softmax_regression",
            "--data",
            data,
        ]
        .into_iter()
        .chain(["--param", "seed=7", "--param", "l2=0.01"])
        .collect::<Vec<_>>(),
    );
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(summary.contains("succeeded: version 1"), "{summary}");
    // The CSV went up once as a dataset named after the file and its content.
    let (_, listed) = http(&addr, "GET", "/v1/datasets", None);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let sha: String = Sha256::digest(iris_csv().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        listed["datasets"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["datasets"][0]["sha256"], sha);
    assert_eq!(
        listed["datasets"][0]["name"],
        format!("iris-{}", &sha[..12])
    );
    assert_eq!(listed["datasets"][0]["rows"], 150);

    let models = text(&run(&addr, &["models"]).stdout);
    assert!(
        models.starts_with("MODEL") && models.contains("iris"),
        "{models}"
    );
    let list = ok_json(&run(&addr, &["--json", "models"]));
    assert_eq!(list["models"][0]["name"], "iris");

    let versions = ok_json(&run(&addr, &["versions", "iris", "--json"]));
    assert_eq!(versions["versions"][0]["version"], 1);
    assert_eq!(versions["versions"][0]["params"]["l2"], 0.01);
    let table = text(&run(&addr, &["versions", "iris"]).stdout);
    assert!(table.contains("accuracy="), "{table}");

    let jobs = ok_json(&run(&addr, &["jobs", "--json"]));
    assert_eq!(jobs["jobs"][0]["state"], "succeeded");
    assert_eq!(jobs["jobs"][0]["version"], 1);

    // Predict from a CSV of features and from JSON on stdin; both match the server.
    let rows = "[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3],[5.9,3.0,4.2,1.5]]";
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/models/iris/predict",
        Some(&format!(r#"{{"instances": {rows}}}"#)),
    );
    assert_eq!(status, 200, "{body}");
    let direct: Value = serde_json::from_str(&body).unwrap();
    let from_stdin = ok_json(&run_with_stdin(&addr, &["--json", "predict", "iris"], rows));
    assert_eq!(from_stdin["predictions"], direct["predictions"]);
    assert_eq!(from_stdin["probabilities"], direct["probabilities"]);
    let features = dir.path().join("features.csv");
    let header = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)";
    std::fs::write(
        &features,
        format!("{header}\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n"),
    )
    .unwrap();
    let features = features.to_str().unwrap();
    let from_csv = ok_json(&run(
        &addr,
        &[
            "--json",
            "predict",
            "iris",
            "--data",
            features,
            "--version",
            "1",
        ],
    ));
    assert_eq!(from_csv["predictions"], direct["predictions"]);
    let table = text(&run(&addr, &["predict", "iris", "--data", features]).stdout);
    assert!(
        table.contains("PROBABILITY") && table.contains("iris version 1"),
        "{table}"
    );

    // Promote moves the alias on the server.
    let out = run(&addr, &["promote", "iris", "1", "--alias", "production"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (_, body) = http(&addr, "GET", "/v1/models", None);
    let models: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(models["models"][0]["aliases"]["production"], 1);

    // Export, then import the file as another model that predicts the same.
    let onnx = dir.path().join("iris.onnx");
    let onnx_path = onnx.to_str().unwrap();
    let out = run(&addr, &["export", "iris", "1", "-o", onnx_path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 100);
    let imported = ok_json(&run(&addr, &["--json", "import", "iris-onnx", onnx_path]));
    assert_eq!(imported["version"], 1);
    let again = ok_json(&run_with_stdin(
        &addr,
        &["--json", "predict", "iris-onnx"],
        rows,
    ));
    assert_eq!(again["predictions"], direct["predictions"]);
}

#[test]
fn compress_quantizes_a_version_and_prints_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(dir.path(), &[]);
    let data = dir.path().join("iris.csv");
    std::fs::write(&data, iris_csv()).unwrap();
    let data = data.to_str().unwrap();
    let out = run(
        &addr,
        &[
            "train",
            "iris",
            "--algorithm",
            "mlp_classifier",
            "--data",
            data,
        ]
        .into_iter()
        .chain(["--param", "seed=7", "--param", "hidden_layers=[32]"])
        .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(
        &addr,
        &[
            "compress",
            "iris",
            "1",
            "--method",
            "quantize",
            "--param",
            "bits=8",
            "--data",
            data,
            "--max-metric-drop",
            "0.1",
        ],
    );
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(summary.contains("succeeded: version 2"), "{summary}");
    assert!(summary.contains("quantize kept: accuracy"), "{summary}");
    assert!(summary.contains("layers int8,int8"), "{summary}");
    // A bad parameter is the server's 422, exit 1, its message printed.
    let out = run(
        &addr,
        &[
            "compress", "iris", "1", "--method", "quantize", "--param", "bits=4", "--data", data,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bits"), "{}", text(&out.stderr));
}

#[test]
fn api_errors_exit_1_with_the_servers_message_and_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(dir.path(), &[]);

    let out = run_with_stdin(&addr, &["predict", "nope"], "[[1.0]]");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("nope") && err.contains("not_found"), "{err}");

    // A ragged CSV is refused before anything is sent: no job exists afterwards.
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "a,b,target\n1,2,0\n3,4\n5,6,1\n").unwrap();
    let out = run(
        &addr,
        &[
            "train",
            "m",
            "--algorithm",
            "logistic_regression",
            "--data",
            ragged.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    let (_, jobs) = http(&addr, "GET", "/v1/jobs", None);
    assert_eq!(
        serde_json::from_str::<Value>(&jobs).unwrap()["jobs"],
        serde_json::json!([])
    );
    let (_, datasets) = http(&addr, "GET", "/v1/datasets", None);
    assert_eq!(
        serde_json::from_str::<Value>(&datasets).unwrap()["datasets"],
        serde_json::json!([]),
        "nothing uploaded"
    );

    // Usage errors are clap's exit code 2, including an unknown algorithm.
    let out = run(
        &addr,
        &["train", "m", "--algorithm", "forest", "--data", "x.csv"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("linear_regression"));
    assert_eq!(run(&addr, &["promote"]).status.code(), Some(2));

    // A bad hyperparameter name is caught locally too.
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "a,target\n1,0\n2,1\n3,0\n4,1\n").unwrap();
    let out = run(
        &addr,
        &["train", "m", "--algorithm", "logistic_regression"]
            .into_iter()
            .chain(["--data", good.to_str().unwrap(), "--param", "speed=9"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("speed"), "{}", text(&out.stderr));

    // Compress sends the documented request; whatever the server answers is shown.
    let out = run(
        &addr,
        &[
            "compress", "nope", "1", "--method", "quantize", "--param", "bits=8",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("code "), "{}", text(&out.stderr));
}

#[test]
fn an_unreachable_server_is_named() {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = run(&addr, &["models"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("cannot reach modeld at http://{addr}")),
        "{err}"
    );
}

#[test]
fn a_wrong_key_is_unauthorized_and_the_right_one_works() {
    let dir = tempfile::tempdir().unwrap();
    let key = "modelctl-test-key";
    let (_server, addr) = server(dir.path(), &[("MODELD_SERVER__API_KEY", key)]);

    let out = run(&addr, &["models", "--api-key", "wrong-key-123"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("unauthorized: check --api-key / MODELD_API_KEY"),
        "{err}"
    );
    assert!(!err.contains("wrong-key-123"), "{err}");

    let out = modelctl(&addr, &["models"])
        .env("MODELD_API_KEY", key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // --help shows where the key comes from, never its value.
    let help = modelctl(&addr, &["--help"])
        .env("MODELD_API_KEY", key)
        .output()
        .unwrap();
    assert!(!text(&help.stdout).contains(key));
}

/// Runs the command in a pseudo-terminal (python3's `pty`) and returns all it wrote.
const PTY_RUN: &str = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn on_a_terminal_training_shows_a_progress_bar() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(dir.path(), &[]);
    let data = dir.path().join("iris.csv");
    std::fs::write(&data, iris_csv()).unwrap();
    let out = Command::new("python3")
        .args(["-c", PTY_RUN, env!("CARGO_BIN_EXE_modelctl")])
        .args(["--url", &format!("http://{addr}"), "train", "iris-mlp"])
        .args([
            "--algorithm",
            "mlp_classifier",
            "--data",
            data.to_str().unwrap(),
        ])
        .args(["--param", "epochs=150", "--param", "batch_size=8"])
        .args(["--param", "hidden_layers=[32,32]"])
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}{}", text(&out.stderr));
    assert!(shown.contains("/150"), "{shown}");
    assert!(
        shown.contains("epoch ") && shown.contains("loss "),
        "{shown}"
    );
    assert!(shown.contains("ETA"), "{shown}");
    assert!(shown.contains("succeeded: version 1"), "{shown}");
}

/// Like [`PTY_RUN`], and answers the session: Ctrl-C once the bar shows a loss, then
/// `$PTY_ANSWER` (default "y" and Enter) to the cancel question. Gives up after 120 s.
const PTY_CANCEL: &str = r#"
import os, pty, select, signal, sys, time
answer = os.environ.get("PTY_ANSWER", "y\n").encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
interrupted = answered = False
deadline = time.time() + 120
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 1.0)
    if not ready:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not interrupted and b"loss" in out:
        os.write(fd, b"\x03")
        interrupted = True
    elif interrupted and not answered and b"[y/N]" in out:
        os.write(fd, answer)
        answered = True
else:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// A long training in a pseudo-terminal, interrupted once the bar shows a loss, with
/// `answer` typed at the cancel question. The server keeps running while this is held.
struct Interrupted {
    shown: String,
    code: Option<i32>,
    jobs: Value,
    addr: String,
    _server: Guard,
    _dir: tempfile::TempDir,
}

fn interrupted_training(answer: &str) -> Interrupted {
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = server(dir.path(), &[]);
    let data = dir.path().join("iris.csv");
    std::fs::write(&data, iris_csv()).unwrap();
    let out = Command::new("python3")
        .args(["-c", PTY_CANCEL, env!("CARGO_BIN_EXE_modelctl")])
        .args(["--url", &format!("http://{addr}"), "train", "long"])
        .args(["--algorithm", "mlp_classifier", "--data"])
        .arg(&data)
        .args(["--param", "epochs=100000", "--param", "batch_size=4"])
        .env("PTY_ANSWER", answer)
        .output()
        .unwrap();
    let (_, jobs) = http(&addr, "GET", "/v1/jobs", None);
    let jobs: Value = serde_json::from_str(&jobs).unwrap();
    Interrupted {
        shown: text(&out.stdout),
        code: out.status.code(),
        jobs,
        addr,
        _server: server,
        _dir: dir,
    }
}

#[test]
fn ctrl_c_on_a_terminal_asks_and_cancels_the_job() {
    let Interrupted {
        shown, code, jobs, ..
    } = interrupted_training("y\n");
    assert!(shown.contains("cancel job "), "{shown}");
    assert!(shown.contains("cancelled"), "{shown}");
    // A cancelled job made no version: exit 1.
    assert_eq!(code, Some(1), "{shown}");
    assert_eq!(jobs["jobs"][0]["state"], "cancelled", "{jobs}");
}

#[test]
fn a_second_ctrl_c_at_the_question_leaves_the_job_running() {
    let run = interrupted_training("\u{3}");
    let (shown, code, jobs, addr) = (&run.shown, run.code, &run.jobs, &run.addr);
    assert!(shown.contains("cancel job "), "{shown}");
    assert!(shown.contains("keeps running"), "{shown}");
    assert_eq!(code, Some(1), "{shown}");
    let job = &jobs["jobs"][0];
    assert_eq!(job["state"], "running", "{jobs}");
    let id = job["job_id"].as_str().unwrap();
    let cancelled = http(addr, "DELETE", &format!("/v1/jobs/{id}"), None).0;
    assert_eq!(cancelled, 200);
}

#[test]
fn watch_follows_a_job_started_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(dir.path(), &[]);
    let data = dir.path().join("iris.csv");
    std::fs::write(&data, iris_csv()).unwrap();
    let accepted = ok_json(&run(
        &addr,
        &[
            "--json",
            "train",
            "iris",
            "--algorithm",
            "softmax_regression",
        ]
        .into_iter()
        .chain(["--data", data.to_str().unwrap(), "--detach"])
        .collect::<Vec<_>>(),
    ));
    let id = accepted["job_id"].as_str().unwrap();
    let job = ok_json(&run(&addr, &["--json", "watch", id]));
    assert_eq!(job["job_id"], id);
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["version"], 1);

    let out = run(&addr, &["watch", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not_found"),
        "{}",
        text(&out.stderr)
    );
}
