//! Split tests, including scikit-learn's CV folds from reference.json.

use super::common::{dataset, indices, reference};
use crate::models::Task;
use crate::train::split::{kfold, stratified_kfold, train_validation_split};

#[test]
fn stratified_split_is_proportional_deterministic_and_complete() {
    let y: Vec<f64> = (0..100).map(|i| if i < 80 { 0.0 } else { 1.0 }).collect();
    let (tr, va) = train_validation_split(100, &y, Task::Classification, 0.25, 7);
    assert_eq!(va.len(), 25);
    assert_eq!(va.iter().filter(|&&i| y[i] == 1.0).count(), 5);
    let mut all: Vec<usize> = tr.iter().chain(&va).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert_eq!(
        train_validation_split(100, &y, Task::Classification, 0.25, 7),
        (tr.clone(), va.clone())
    );
    assert_ne!(
        train_validation_split(100, &y, Task::Classification, 0.25, 8).1,
        va
    );
    // A singleton class stays in train.
    let y = vec![0.0, 0.0, 0.0, 1.0];
    let (tr, _) = train_validation_split(4, &y, Task::Classification, 0.9, 1);
    assert!(tr.contains(&3));
    assert_eq!(
        train_validation_split(5, &[0.0; 5], Task::Regression, 0.0, 1),
        ((0..5).collect(), vec![])
    );
    let (tr, va) = train_validation_split(10, &[0.0; 10], Task::Regression, 0.3, 1);
    assert_eq!((tr.len(), va.len()), (7, 3));
}

#[test]
fn kfold_sizes_and_no_leakage() {
    let folds = kfold(11, 3);
    let sizes: Vec<usize> = folds.iter().map(|(_, v)| v.len()).collect();
    assert_eq!(sizes, vec![4, 4, 3]);
    for (tr, va) in &folds {
        assert_eq!(tr.len() + va.len(), 11);
        assert!(va.iter().all(|i| !tr.contains(i)));
    }
    assert!(kfold(3, 5).is_empty() && kfold(10, 1).is_empty());
    let y = [0, 1, 0, 1, 0, 1, 0, 1];
    for (tr, va) in stratified_kfold(&y, 2) {
        assert_eq!(va.iter().filter(|&&i| y[i] == 1).count(), 2);
        assert!(va.iter().all(|i| !tr.contains(i)));
    }
}

fn ref_folds(r: &serde_json::Value, ds: &str) -> Vec<Vec<usize>> {
    r["datasets"][ds]["grid_search"]["cv_folds_validation_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

#[test]
fn folds_match_scikit_learn() {
    let r = reference();
    let train = indices(&r, "diabetes", "train_indices");
    let ours: Vec<Vec<usize>> = kfold(train.len(), 5)
        .into_iter()
        .map(|(_, v)| v.iter().map(|&p| train[p]).collect())
        .collect();
    assert_eq!(ours, ref_folds(&r, "diabetes"));

    let train = indices(&r, "breast_cancer", "train_indices");
    let data = dataset("breast_cancer", Task::Classification);
    let y: Vec<usize> = train.iter().map(|&i| data.y[i] as usize).collect();
    let ours: Vec<Vec<usize>> = stratified_kfold(&y, 5)
        .into_iter()
        .map(|(_, v)| v.iter().map(|&p| train[p]).collect())
        .collect();
    assert_eq!(ours, ref_folds(&r, "breast_cancer"));
}
