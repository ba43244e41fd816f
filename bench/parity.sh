#!/usr/bin/env bash
# Quality parity with scikit-learn's reference numbers (../shared/data/reference.json).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q --example parity
