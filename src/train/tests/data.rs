//! Dataset parsing and path-safety tests.

use super::common::data_dir;
use crate::models::Task;
use crate::train::dataset::parse_csv;
use crate::train::source::NoDatasets;
use crate::train::{load, DataSpec, TrainError};

fn invalid(r: Result<crate::train::Dataset, TrainError>) -> String {
    match r {
        Err(e) if !e.is_internal() => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn csv_parses_features_and_numeric_classes() {
    let d = parse_csv(
        "a,target,b\n1,1.0,2\n3,0.0,4\n5,2.0,6\n",
        "target",
        None,
        Task::Classification,
    )
    .unwrap();
    assert_eq!(d.feature_names, vec!["a", "b"]);
    assert_eq!(d.x.row(1).to_vec(), vec![3.0, 4.0]);
    assert_eq!(d.y, vec![1.0, 0.0, 2.0]);
    assert_eq!(d.classes, Some(vec!["0".into(), "1".into(), "2".into()]));
    let r = parse_csv("a,y\n1,2.5\n2,3.5\n", "y", None, Task::Regression).unwrap();
    assert_eq!(
        (r.y, r.classes, r.target),
        (vec![2.5, 3.5], None, "y".to_string())
    );
}

#[test]
fn csv_string_labels_sorted_and_relabelled() {
    let d = parse_csv(
        "x,target\n1,dog\n2,cat\n3,dog\n",
        "target",
        None,
        Task::Classification,
    )
    .unwrap();
    assert_eq!(d.classes, Some(vec!["cat".into(), "dog".into()]));
    assert_eq!(d.y, vec![1.0, 0.0, 1.0]);
    let names = vec!["malignant".to_string(), "benign".to_string()];
    let d = parse_csv(
        "x,target\n1,1\n2,0\n",
        "target",
        Some(&names),
        Task::Classification,
    )
    .unwrap();
    assert_eq!(d.classes, Some(names));
    let m = invalid(parse_csv(
        "x,target\n1,1\n2,1\n",
        "target",
        None,
        Task::Classification,
    ));
    assert!(m.contains("at least 2"), "{m}");
}

#[test]
fn csv_errors_name_row_and_column() {
    let m = invalid(parse_csv("a,b\n1,2\n", "target", None, Task::Regression));
    assert!(m.contains("`target`") && m.contains("not found"), "{m}");
    let m = invalid(parse_csv(
        "a,b,target\n1,2,3\n4,oops,5\n",
        "target",
        None,
        Task::Regression,
    ));
    assert!(
        m.contains("row 1") && m.contains("column `b`") && m.contains("oops"),
        "{m}"
    );
    let m = invalid(parse_csv(
        "a,b,target\n1,,3\n",
        "target",
        None,
        Task::Regression,
    ));
    assert!(
        m.contains("row 0") && m.contains("`b`") && m.contains("missing"),
        "{m}"
    );
    let m = invalid(parse_csv(
        "a,b,target\n1,2,3\n4,5\n",
        "target",
        None,
        Task::Regression,
    ));
    assert!(m.contains("row 1") && m.contains("2 fields"), "{m}");
    let m = invalid(parse_csv(
        "a,target\n1,abc\n",
        "target",
        None,
        Task::Regression,
    ));
    assert!(m.contains("row 0") && m.contains("abc"), "{m}");
    let m = invalid(parse_csv(
        "a,target\n1,NaN\n",
        "target",
        None,
        Task::Regression,
    ));
    assert!(m.contains("row 0"), "{m}");
    let m = invalid(parse_csv("a,target\n", "target", None, Task::Regression));
    assert!(m.contains("no data rows"), "{m}");
    let m = invalid(parse_csv("target\n1\n", "target", None, Task::Regression));
    assert!(m.contains("no feature columns"), "{m}");
    let m = invalid(parse_csv(
        "a,target\ninf,1\n",
        "target",
        None,
        Task::Regression,
    ));
    assert!(m.contains("column `a`"), "{m}");
}

#[test]
fn rows_spec_from_json() {
    let spec: DataSpec =
        serde_json::from_str(r#"{"rows": [[1, 2], [3, 4], [5, 6]], "targets": ["b", "a", "b"]}"#)
            .unwrap();
    let d = load(&spec, Task::Classification, &data_dir(), &NoDatasets).unwrap();
    assert_eq!(d.feature_names, vec!["x0", "x1"]);
    assert_eq!(d.y, vec![1.0, 0.0, 1.0]);
    assert_eq!(d.classes, Some(vec!["a".into(), "b".into()]));
    let spec: DataSpec = serde_json::from_str(
        r#"{"rows": [[1], [2]], "targets": [1.5, 2], "feature_names": ["f"]}"#,
    )
    .unwrap();
    let d = load(&spec, Task::Regression, &data_dir(), &NoDatasets).unwrap();
    assert_eq!(
        (d.y, d.feature_names),
        (vec![1.5, 2.0], vec!["f".to_string()])
    );
    // Errors: ragged rows, string regression target, mixed labels, empty, zero features.
    for (json, task, needle) in [
        (
            r#"{"rows": [[1, 2], [3]], "targets": [1, 2]}"#,
            Task::Regression,
            "row 1",
        ),
        (
            r#"{"rows": [[1], [2]], "targets": ["a", 2]}"#,
            Task::Regression,
            "row 0",
        ),
        (
            r#"{"rows": [[1], [2]], "targets": ["a", 2]}"#,
            Task::Classification,
            "row 1",
        ),
        (
            r#"{"rows": [], "targets": []}"#,
            Task::Regression,
            "no rows",
        ),
        (
            r#"{"rows": [[], []], "targets": [1, 2]}"#,
            Task::Regression,
            "no feature",
        ),
        (
            r#"{"rows": [[1], [2]], "targets": [1]}"#,
            Task::Regression,
            "targets",
        ),
    ] {
        let spec: DataSpec = serde_json::from_str(json).unwrap();
        let m = invalid(load(&spec, task, &data_dir(), &NoDatasets));
        assert!(m.contains(needle), "{json}: {m}");
    }
}

#[test]
fn data_spec_json_forms_and_unknown_fields() {
    let s: DataSpec = serde_json::from_str(r#"{"csv": "a,target\n1,2\n"}"#).unwrap();
    assert!(matches!(s, DataSpec::Csv { ref target, .. } if target == "target"));
    let s: DataSpec = serde_json::from_str(r#"{"path": "iris.csv", "target": "y"}"#).unwrap();
    assert!(
        matches!(s, DataSpec::Path { ref path, ref target, .. } if path == "iris.csv" && target == "y")
    );
    for bad in [
        r#"{"csv": "a", "bogus": 1}"#,
        r#"{"path": "x", "csv": "y"}"#,
        r#"{"nothing": 1}"#,
        "[1]",
    ] {
        assert!(serde_json::from_str::<DataSpec>(bad).is_err(), "{bad}");
    }
}

#[test]
fn path_loading_and_escape_rejection() {
    let ok = DataSpec::Path {
        path: "iris.csv".into(),
        target: "target".into(),
        class_names: None,
    };
    let d = load(&ok, Task::Classification, &data_dir(), &NoDatasets).unwrap();
    assert_eq!((d.n_rows(), d.x.ncols()), (150, 4));
    for p in ["../data/iris.csv", "/etc/passwd", "./../../etc/passwd", ""] {
        let spec = DataSpec::Path {
            path: p.into(),
            target: "target".into(),
            class_names: None,
        };
        let m = invalid(load(&spec, Task::Classification, &data_dir(), &NoDatasets));
        assert!(m.contains("path"), "{p}: {m}");
    }
    let missing = DataSpec::Path {
        path: "nope.csv".into(),
        target: "target".into(),
        class_names: None,
    };
    assert!(matches!(
        load(&missing, Task::Regression, &data_dir(), &NoDatasets),
        Err(TrainError::DataNotFound { .. })
    ));
}

#[test]
fn symlink_out_of_data_dir_is_rejected() {
    let dir = std::env::temp_dir().join(format!("modeld-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("secret.csv"), "a,target\n1,2\n").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.csv"), dir.join("data/link.csv")).unwrap();
    let spec = DataSpec::Path {
        path: "link.csv".into(),
        target: "target".into(),
        class_names: None,
    };
    let m = invalid(load(
        &spec,
        Task::Regression,
        &dir.join("data"),
        &NoDatasets,
    ));
    assert!(m.contains("outside"), "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}
