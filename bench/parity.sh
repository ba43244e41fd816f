#!/usr/bin/env bash
# Quality parity with scikit-learn's reference numbers (tests/fixtures/data/reference.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# The example needs no ONNX: skip compiling tract.
cargo run --release -q --no-default-features --example parity
