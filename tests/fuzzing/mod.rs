//! Shared pieces of the property-based fuzz targets (tests/fuzz_*.rs): the case count
//! (`PROPTEST_CASES` or a per-target default small enough for plain `cargo test`), and
//! mutators that take a valid input and change one part of it, so the cases get past
//! the first syntax check into the code behind it.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// `PROPTEST_CASES` when set (scripts/fuzz.sh), else `default`. Failures are saved in
/// proptest-regressions/<target>.txt and replayed first on every later run.
pub fn config(default: u32, target: &str) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // One file per target (cargo runs tests from the package root); leaked once
        // per target because proptest wants a `&'static str`.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
            format!("proptest-regressions/{target}.txt").into_boxed_str(),
        )))),
        // Shrinking a slow target (the ONNX loader, the HTTP stack) must stay bounded.
        max_shrink_iters: 512,
        ..Config::default()
    }
}

/// Runs `test` on `strategy` for the configured number of cases and prints how many
/// inputs the target ran (scripts/fuzz.sh collects the line); a failure panics with
/// proptest's minimal input after saving it under proptest-regressions/.
pub fn check<S: Strategy>(
    target: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let ran = std::cell::Cell::new(0u64);
    let mut runner = TestRunner::new(config(default_cases, target));
    let result = runner.run(&strategy, |v| {
        ran.set(ran.get() + 1);
        test(v)
    });
    println!("fuzz target {target}: {} cases run", ran.get());
    if let Err(e) = result {
        panic!("fuzz target {target}: {e}");
    }
}

mod bytes;
mod json;

// Each target uses some of the mutators.
#[allow(unused_imports)]
pub use bytes::*;
#[allow(unused_imports)]
pub use json::*;
