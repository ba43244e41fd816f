//! Which training errors are the server's fault (HTTP 500) and which the
//! client's (422).

use crate::models::{Family, Task};
use crate::train::TrainError;

#[test]
fn only_io_and_internal_errors_are_internal() {
    let io = TrainError::Io {
        path: "x.csv".into(),
        source: std::io::ErrorKind::PermissionDenied.into(),
    };
    assert!(io.is_internal());
    assert!(io.to_string().contains("x.csv"), "{io}");
    assert!(TrainError::internal("bug".into()).is_internal());
    let client = [
        TrainError::DataNotFound {
            path: "x.csv".into(),
        },
        TrainError::param("l2", "must be a finite number >= 0, got -1".into()),
        TrainError::TooFewClasses { found: 1 },
        TrainError::NotBinary {
            algorithm: Family::LogisticRegression,
            found: 3,
        },
        TrainError::TaskMismatch {
            algorithm: Family::LinearRegression,
            expected: Task::Regression,
        },
        TrainError::ShapeMismatch {
            rows: 2,
            targets: 1,
        },
        TrainError::Diverged { epoch: 3 },
    ];
    for e in client {
        assert!(!e.is_internal(), "{e}");
    }
}

#[test]
fn a_grid_combination_keeps_its_cause() {
    let e = TrainError::GridCombination {
        combination: r#"{"l2":-1}"#.into(),
        source: Box::new(TrainError::param("l2", "must be >= 0".into())),
    };
    assert_eq!(
        e.to_string(),
        r#"grid combination {"l2":-1}: invalid parameter: l2 must be >= 0"#
    );
    assert!(!e.is_internal());
}
