#!/usr/bin/env bash
# Validates every manifest under deploy/kubernetes and deploy/kserve offline (no cluster,
# no network): core kinds with kubernetes-validate's bundled schemas, KServe kinds with
# jsonschema against the CRD schemas in deploy/kserve/schemas, kustomizations rendered and
# their output validated (scripts/validate_manifests.py). It first checks that broken
# copies of the manifests are rejected, so it cannot pass by accepting everything.
# Exit code 1 on any invalid manifest.
# Usage: scripts/validate-manifests.sh [DIR...]; Python from $MANIFEST_PYTHON, default
# .venv/bin/python (scripts/setup-python.sh installs kubernetes-validate and jsonschema).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${MANIFEST_PYTHON:-.venv/bin/python}"
if ! "$PY" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
    echo "validate-manifests: $PY lacks kubernetes-validate/jsonschema/pyyaml; run scripts/setup-python.sh" >&2
    exit 1
fi
if [ "$#" -eq 0 ]; then
    set -- deploy/kubernetes deploy/kserve
fi
exec "$PY" scripts/validate_manifests.py --self-test "$@"
