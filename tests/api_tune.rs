//! `POST /v1/models/{name}/tune` through the HTTP stack: scikit-learn's reference
//! grid searches reproduced, the CV table on the job and in the version's provenance,
//! the dataset fingerprint, cancellation, and every bad request → 422.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

async fn tune(app: &TestApp, model: &str, body: Value) -> Value {
    let r = app.post(&format!("/v1/models/{model}/tune"), body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    app.wait_job(r.body["job_id"].as_str().unwrap()).await
}

fn reference_train(ds: &str) -> (Value, Value) {
    let r = reference();
    let g = r["datasets"][ds]["grid_search"].clone();
    let csv = read_csv(&fixture(&format!("data/{ds}.csv")));
    let train = indices(&r["datasets"][ds]["split"]["train_indices"]);
    (rows_data(&csv, &train), g)
}

/// Ridge(alpha) on diabetes, 5-fold KFold on the training split, scored by R².
/// modeld's l2 is per row: l2 = alpha / n_fold_train (n_fold_train = 282.4 on average
/// here; the folds have 282 or 283 training rows, so scores agree to ~1e-4).
#[tokio::test]
async fn ridge_grid_on_diabetes_matches_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let (data, g) = reference_train("diabetes");
    let n_fold_train = 353.0 * 4.0 / 5.0;
    let alphas: Vec<f64> = g["param_grid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let l2s: Vec<f64> = alphas.iter().map(|a| a / n_fold_train).collect();
    let job = tune(
        &app,
        "diab",
        json!({"algorithm": "linear_regression", "data": data, "param_grid": {"l2": l2s},
               "folds": 5, "scoring": "r2", "alias": "production"}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let results = job["cv_results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for (res, want) in results.iter().zip(g["candidates"].as_array().unwrap()) {
        let got = res["mean_score"].as_f64().unwrap();
        let exp = want["mean_cv_score"].as_f64().unwrap();
        assert!((got - exp).abs() < 2e-4, "{res} vs {want}");
        assert_eq!(res["fold_scores"].as_array().unwrap().len(), 5);
        assert_eq!(res["rank"], want["rank"], "{res} vs {want}");
    }
    let best_l2 = job["best_params"]["l2"].as_f64().unwrap();
    assert!(
        (best_l2 * n_fold_train - 10.0).abs() < 1e-9,
        "best alpha 10: {best_l2}"
    );
    let best = results.iter().find(|r| r["rank"] == 1).unwrap();
    assert!((best["mean_score"].as_f64().unwrap() - 0.453937).abs() < 2e-4);
    // the version carries the whole table, the fingerprint, and got the alias
    let v = job["version"].as_u64().unwrap();
    let meta = app.get(&format!("/v1/models/diab/versions/{v}")).await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.text);
    let training = &meta.body["training"];
    assert_eq!(training["cv"]["results"].as_array().unwrap().len(), 6);
    assert_eq!(training["cv"]["scoring"], "r2");
    assert_eq!(training["dataset"]["rows"], 353);
    assert_eq!(training["dataset"]["columns"], 10);
    assert_eq!(training["dataset"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(meta.body["params"]["l2"].as_f64().unwrap(), best_l2);
    let m = app.get("/v1/models/diab").await;
    assert_eq!(m.body["aliases"]["production"], v, "{}", m.text);
}

/// LogisticRegression(C) on breast_cancer, StratifiedKFold(5), accuracy:
/// l2 = 1/(C·n_fold_train) with n_fold_train = 364. C = 0.1 and 1.0 tie at 0.980220.
#[tokio::test]
async fn logistic_grid_on_breast_cancer_matches_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let (data, g) = reference_train("breast_cancer");
    let cs = [0.01, 0.1, 1.0, 10.0, 100.0];
    let l2s: Vec<f64> = cs.iter().map(|c| 1.0 / (c * 364.0)).collect();
    let job = tune(
        &app,
        "bc",
        json!({"algorithm": "logistic_regression", "data": data, "param_grid": {"l2": l2s}}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let best_c = 1.0 / (job["best_params"]["l2"].as_f64().unwrap() * 364.0);
    assert!(
        (best_c - 0.1).abs() < 1e-9 || (best_c - 1.0).abs() < 1e-9,
        "{best_c}"
    );
    let results = job["cv_results"].as_array().unwrap();
    let best = results.iter().find(|r| r["rank"] == 1).unwrap();
    assert!((best["mean_score"].as_f64().unwrap() - 0.9802197802197803).abs() < 1e-9);
    for (res, want) in results.iter().zip(g["candidates"].as_array().unwrap()) {
        let got = res["mean_score"].as_f64().unwrap();
        let exp = want["mean_cv_score"].as_f64().unwrap();
        println!("C {}: modeld {got} sklearn {exp}", want["C"]);
        assert!((got - exp).abs() < 0.02, "{res} vs {want}");
    }
}

/// A grid over two keys (one nested) on iris: 2×2 combinations, MLP, stratified.
#[tokio::test]
async fn two_key_grid_with_mlp_and_f1() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let iris = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let job = tune(
        &app,
        "iris",
        json!({"algorithm": "mlp_classifier", "data": {"csv": iris},
               "params": {"epochs": 100, "hidden_layers": [8]},
               "param_grid": {"activation": ["tanh", "relu"], "hidden_layers": [[4], [8, 4]]},
               "folds": 3, "scoring": "f1"}),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let rs = job["cv_results"].as_array().unwrap();
    assert_eq!(rs.len(), 4);
    // sorted keys, last varies fastest
    assert_eq!(
        rs[0]["params"],
        json!({"activation": "tanh", "hidden_layers": [4]})
    );
    assert_eq!(
        rs[1]["params"],
        json!({"activation": "tanh", "hidden_layers": [8, 4]})
    );
    assert_eq!(rs[2]["params"]["activation"], "relu");
    for r in rs {
        assert_eq!(r["fold_scores"].as_array().unwrap().len(), 3);
        assert!(r["mean_score"].as_f64().unwrap() > 0.5, "{r}");
    }
    let best = rs.iter().find(|r| r["rank"] == 1).unwrap();
    assert!(best["mean_score"].as_f64().unwrap() > 0.9, "{best}");
    assert!(!job["history"].as_array().unwrap().is_empty());
    assert!(job["history"][0]["train_metric"].is_number());
}

#[tokio::test]
async fn cancel_stops_a_tune_job_and_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let (data, _) = reference_train("breast_cancer");
    let r = app
        .post(
            "/v1/models/slow/tune",
            json!({"algorithm": "mlp_classifier", "data": data,
                   "params": {"epochs": 50000, "hidden_layers": [64]},
                   "param_grid": {"l2": [0.0, 0.1]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    for _ in 0..500 {
        let j = app.get(&format!("/v1/jobs/{id}")).await;
        if j.body["state"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let c = app.call("DELETE", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let job = app.wait_job(&id).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(job["version"].is_null());
    assert_eq!(
        app.get("/v1/models/slow").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_tune_requests_are_422_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let iris = std::fs::read_to_string(fixture("data/iris.csv")).unwrap();
    let tiny = "a,target\n1,1.5\n2,2.5\n3,3.5\n";
    let d = json!({"csv": iris});
    let cases = [
        (
            json!({"algorithm": "random_forest", "data": d, "param_grid": {"l2": [1]}}),
            "random_forest",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {}}),
            "param_grid must name",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": []}}),
            "has no values",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"flux": [1]}}),
            "'flux' is not a parameter",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"learning_rate": [0.1, -1.0]}}),
            "learning_rate must be",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "params": {"learning_rate": -1.0}, "param_grid": {"l2": [0.1]}}),
            "learning_rate must be",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": [-0.5]}}),
            "l2 must be",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": [0.1]}, "folds": 1}),
            "folds must be at least 2",
        ),
        (
            json!({"algorithm": "linear_regression", "data": {"csv": tiny}, "param_grid": {"l2": [0.1]}, "folds": 4}),
            "must not exceed the number of rows (3)",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": [0.1]}, "folds": 51}),
            "fewer than folds",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": [0.1]}, "scoring": "r2"}),
            "does not apply",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": [0.1]}, "scoring": "auc"}),
            "auc",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": (0..17).map(f64::from).collect::<Vec<_>>(), "l1": (0..17).map(f64::from).collect::<Vec<_>>()}}),
            "more than the limit of 256",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "params": [1], "param_grid": {"l2": [0.1]}}),
            "params must be a JSON object",
        ),
        (
            json!({"algorithm": "softmax_regression", "data": d, "param_grid": {"l2": [0.1]}, "alias": "../x"}),
            "invalid alias",
        ),
    ];
    for (body, needle) in cases {
        let r = app.post("/v1/models/m/tune", body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.body["code"], "invalid_input", "{}", r.text);
        let msg = r.body["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    // nothing was queued or registered
    assert_eq!(
        app.get("/v1/jobs").await.body["jobs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(app.get("/v1/models/m").await.status, StatusCode::NOT_FOUND);
}

/// The fingerprint depends on the data, not how it was sent, and shows on the version.
#[tokio::test]
async fn dataset_fingerprint_is_stable_across_data_forms() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let text = std::fs::read_to_string(fixture("data/diabetes.csv")).unwrap();
    let csv = read_csv(&fixture("data/diabetes.csv"));
    let all: Vec<usize> = (0..csv.rows.len()).collect();
    let a = app
        .train(
            "fp",
            json!({"algorithm": "linear_regression", "data": {"csv": text}}),
        )
        .await;
    let b = app
        .train(
            "fp",
            json!({"algorithm": "linear_regression", "data": rows_data(&csv, &all)}),
        )
        .await;
    let c = app
        .train(
            "fp",
            json!({"algorithm": "linear_regression", "data": rows_data(&csv, &all[1..])}),
        )
        .await;
    let fp = |v: &Value| {
        let app = &app;
        let v = v["version"].as_u64().unwrap();
        async move {
            app.get(&format!("/v1/models/fp/versions/{v}")).await.body["training"]["dataset"]
                .clone()
        }
    };
    let (fa, fb, fc) = (fp(&a).await, fp(&b).await, fp(&c).await);
    assert_eq!(fa, fb);
    assert_eq!(
        (
            fa["rows"].clone(),
            fa["columns"].clone(),
            fa["encoding"].clone()
        ),
        (json!(442), json!(10), json!(2))
    );
    assert_ne!(fa["sha256"], fc["sha256"]);
    assert_eq!(fc["rows"], 441);
}
