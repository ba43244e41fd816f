#!/usr/bin/env bash
# Creates .venv (or $1) with the Python clients the interop suite (tests/interop/) drives
# modeld with: tritonclient's HTTP and gRPC clients, onnxruntime and KServe's Python SDK
# (kserve; its suite runs in its own process); and schemathesis, which
# scripts/schemathesis.sh points at /openapi.json; and kubernetes-validate, jsonschema and
# pyyaml for scripts/validate-manifests.sh; and moto[server], the S3-compatible server
# (`moto_server`, with boto3) that tests/s3_store.rs runs replicas against; and playwright,
# which drives Debian's chromium (installed by .ci/run, never playwright's own browsers) in
# tests/dashboard.rs. Versions are pinned so a CI
# run is reproducible; bump them together with tests/interop/*.py.
# Usage: scripts/setup-python.sh [VENV_DIR]; then `cargo test --test interop` uses
# $INTEROP_PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tritonclient[http,grpc]==2.73.0" \
    "onnxruntime==1.32.0" \
    "numpy==2.4.6" \
    "kserve==0.21.0" \
    "schemathesis==4.32.5" \
    "kubernetes-validate==1.37.0" \
    "jsonschema==4.26.0" \
    "pyyaml==6.0.3" \
    "moto[server]==5.2.5" \
    "playwright==1.65.2"
"$VENV/bin/python" -c "import tritonclient.http, tritonclient.grpc, onnxruntime, numpy; print('interop venv ready:', onnxruntime.__version__, numpy.__version__)"
"$VENV/bin/python" -c "import kserve; print('kserve SDK ready')"
"$VENV/bin/schemathesis" --version
"$VENV/bin/python" -c "import kubernetes_validate, jsonschema, yaml; print('manifest validators ready')"
"$VENV/bin/python" -c "import moto, boto3; print('moto ready:', moto.__version__)"
"$VENV/bin/python" -c "import playwright.sync_api; print('playwright ready')"
