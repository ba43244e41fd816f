//! A real Prometheus server scrapes a real modeld on loopback; its query API must show
//! what we sent. Also runs `promtool` on our exposition, the alert rules and checks the
//! Grafana dashboard only uses metrics we export. Needs Debian's `prometheus` package
//! (installed by .ci/run, which sets REQUIRE_PROMETHEUS=1).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

fn query(prom: &str, q: &str) -> Option<f64> {
    let (status, body) = http(
        prom,
        "GET",
        &format!("/api/v1/query?query={}", urlencode(q)),
        None,
    );
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls a PromQL query until it returns `want` (scrapes run every second).
fn wait_for(prom: &str, q: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        last = query(prom, q);
        if last == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{q}: wanted {want}, Prometheus last said {last:?}");
}

#[test]
fn prometheus_ingests_requests_and_online_accuracy() {
    let (Some(prometheus), Some(promtool)) = (
        tool("prometheus", "REQUIRE_PROMETHEUS"),
        tool("promtool", "REQUIRE_PROMETHEUS"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = modeld(dir.path())
        .env("MODELD_DEMO__ENABLED", "true")
        .args(["--host", "127.0.0.1", "--port", "0"])
        .spawn()
        .unwrap();
    let addr = wait_listening(&mut child);
    let _modeld = Guard(child);
    wait_ready(&addr);

    // Known traffic: 5 one-row predictions on the iris demo model, then feedback for
    // four of them with three answers agreeing with the model: online accuracy 0.75.
    let rows = [
        [5.1, 3.5, 1.4, 0.2],
        [6.0, 2.2, 4.0, 1.0],
        [6.7, 3.0, 5.2, 2.3],
        [5.0, 3.4, 1.5, 0.2],
        [6.3, 3.3, 6.0, 2.5],
    ];
    let mut answers = Vec::new();
    for row in rows {
        let (status, body) = http(
            &addr,
            "POST",
            "/v1/models/iris/predict",
            Some(&json!({"instances": [row]}).to_string()),
        );
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        answers.push((
            v["request_id"].as_str().unwrap().to_string(),
            v["predictions"][0].as_u64().unwrap(),
        ));
    }
    for (i, (id, predicted)) in answers.iter().take(4).enumerate() {
        let actual = if i == 0 {
            (predicted + 1) % 3
        } else {
            *predicted
        };
        let (status, body) = http(
            &addr,
            "POST",
            "/v1/models/iris/feedback",
            Some(&json!({"request_id": id, "actual": [actual]}).to_string()),
        );
        assert_eq!(status, 200, "{body}");
    }

    // Our exposition passes promtool's linter.
    let (_, metrics) = http(&addr, "GET", "/metrics", None);
    let mut lint = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A real Prometheus scraping us every second.
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: modeld\n    static_configs:\n      - targets: ['{addr}']\n"),
    )
    .unwrap();
    let prom = Command::new(&prometheus)
        .args([
            &format!("--config.file={}", cfg.display()),
            &format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
            &format!("--web.listen-address={prom_addr}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prom = Guard(prom);

    wait_for(&prom_addr, "up{job=\"modeld\"}", 1.0);
    wait_for(
        &prom_addr,
        "sum(modeld_http_requests_total{route=\"/v1/models/{name}/predict\",status=\"200\"})",
        5.0,
    );
    wait_for(
        &prom_addr,
        "sum(modeld_predictions_total{model=\"iris\"})",
        5.0,
    );
    wait_for(
        &prom_addr,
        "modeld_model_accuracy{model=\"iris\",split=\"online\"}",
        0.75,
    );
    wait_for(
        &prom_addr,
        "sum(modeld_feedback_total{model=\"iris\"})",
        4.0,
    );
}

#[test]
fn alert_rules_pass_promtool_and_the_dashboard_uses_only_our_metrics() {
    let Some(promtool) = tool("promtool", "REQUIRE_PROMETHEUS") else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(root.join("deploy/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 rules found"));
    let out = Command::new(&promtool)
        .args(["check", "config"])
        .arg(root.join("config/prometheus.yml"))
        .output()
        .unwrap();
    // The compose config names the rules file by its in-container path; only syntax
    // problems other than that missing file count.
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || text.contains("/etc/prometheus/alerts.yml"),
        "{text}"
    );
}

#[test]
fn dashboard_queries_name_exported_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/dashboards/modeld.json")).unwrap(),
    )
    .unwrap();
    let exported = [
        "modeld_http_requests_total",
        "modeld_http_request_duration_seconds_bucket",
        "modeld_predictions_total",
        "modeld_model_accuracy",
        "modeld_model_f1",
        "modeld_model_mse",
        "modeld_model_r2",
        "modeld_feature_drift_psi",
        "modeld_training_jobs",
        "process_resident_memory_bytes",
    ];
    let mut seen = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("modeld_") || w.starts_with("process_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for n in names {
                assert!(exported.contains(&n), "dashboard uses unknown metric {n}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 10);
}
