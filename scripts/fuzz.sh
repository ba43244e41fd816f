#!/usr/bin/env bash
# Runs the property-based fuzz targets (tests/fuzz_*.rs) deeper than `cargo test` does.
#
#   scripts/fuzz.sh [-n CASES] [--release] [TARGET...]
#
# CASES (default 20000) goes to proptest as PROPTEST_CASES for every target; TARGET is
# one of the names listed by `scripts/fuzz.sh --list` (default: all). A failing case is
# shrunk, saved under proptest-regressions/ (commit it: it is replayed on every run) and
# fails the script. Prints the cases run per target at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# target  test-binary  test-function
TARGETS="
predict_json     fuzz_decoders predict_bodies_decode_to_a_matrix_or_a_client_error
predict_bytes    fuzz_decoders predict_body_bytes_decode_to_a_matrix_or_a_client_error
instances_shapes fuzz_decoders instances_rows_of_any_width_or_record_shape_are_placed_or_refused
v2_json          fuzz_decoders v2_json_tensors_decode_to_a_matrix_or_a_client_error
v2_binary        fuzz_decoders v2_binary_tensors_decode_to_a_matrix_or_a_client_error
csv              fuzz_decoders csv_text_parses_to_a_valid_dataset_or_a_data_error
data_spec        fuzz_decoders data_specs_load_to_a_valid_dataset_or_a_data_error
onnx_bytes       fuzz_onnx     mutated_onnx_bytes_load_or_give_a_typed_error
onnx_graph       fuzz_onnx     onnx_graphs_with_one_field_changed_load_or_give_a_typed_error
store            fuzz_store    a_store_with_one_file_changed_loads_and_serves_or_refuses_cleanly
http_predict     fuzz_http     predict_answers_2xx_or_4xx_with_a_code
http_infer       fuzz_http     v2_infer_answers_2xx_or_4xx_with_a_code
http_binary      fuzz_http     v2_binary_infer_answers_2xx_or_4xx_with_a_code
"

cases=20000
profile=()
wanted=()
while [ $# -gt 0 ]; do
    case "$1" in
        -n) cases="$2"; shift 2 ;;
        --release) profile=(--release); shift ;;
        --list) echo "$TARGETS" | awk 'NF {print $1}'; exit 0 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) wanted+=("$1"); shift ;;
    esac
done

for w in "${wanted[@]+"${wanted[@]}"}"; do
    if ! echo "$TARGETS" | awk '{print $1}' | grep -qx -- "$w"; then
        echo "unknown target '$w'; one of:" >&2
        echo "$TARGETS" | awk 'NF {print "  " $1}' >&2
        exit 2
    fi
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
while read -r target binary test; do
    [ -n "$target" ] || continue
    if [ ${#wanted[@]} -gt 0 ] && ! printf '%s\n' "${wanted[@]}" | grep -qx -- "$target"; then
        continue
    fi
    echo "== $target ($cases cases)"
    start=$(date +%s)
    if ! PROPTEST_CASES="$cases" cargo test "${profile[@]+"${profile[@]}"}" --quiet \
        --test "$binary" -- --exact "$test" --nocapture 2>&1 | tee -a "$log" \
        | grep -E "fuzz target|panicked|minimal failing input|test result"; then
        status=1
    fi
    echo "   $(( $(date +%s) - start )) s"
done <<< "$TARGETS"

echo "== cases run per target"
grep -E "^fuzz target [a-z_]+: [0-9]+ cases run" "$log" | sed 's/^fuzz target /  /' || true
if grep -q "minimal failing input\|FAILED" "$log"; then status=1; fi
exit $status
