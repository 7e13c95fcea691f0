#!/usr/bin/env bash
# GPU check of the fuse challenge in one run (a few minutes on an H100):
#   - the reference passes the whole conformance suite, every mutant fails its trap's test
#     (in-process loader, no sandbox: bench/fuse_local_plugin.py);
#   - bandwidth sweep of the reference, next to PyTorch's softmax + topk when torch is there;
#   - when the full harness imports (pydantic, rich), also `llmbench validate fuse` (sandboxed
#     worker, fallback isolation unless bubblewrap works) in a scratch project.
# Needs: nvidia-smi, nvcc, python3 with numpy and pytest. Run from anywhere:
#   bash bench/gpu_fuse_check.sh [OUTDIR]        (default: $OUT, else /tmp/fuse-check)
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUTDIR=${1:-${OUT:-/tmp/fuse-check}}
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR"
export PYTHONPATH="$ROOT/src:$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.sm,clocks.mem --format=csv,noheader || exit 2
nvcc --version | tail -n 2 || exit 2

echo "== reference, mutants, bandwidth"
"$PY" bench/fuse_gpu_check.py "$OUTDIR" 2>&1 | tee "$OUTDIR/check.log"
status=${PIPESTATUS[0]}

if "$PY" -c "import pydantic, rich" 2>/dev/null; then
    echo "== llmbench validate fuse (full harness)"
    scratch=$(mktemp -d /tmp/fuse-validate.XXXXXX)
    mkdir -p "$scratch/challenges" "$scratch/solutions" "$scratch/adapters"
    cp -r "$ROOT/challenges/fuse" "$scratch/challenges/"
    (cd "$scratch" && LLMBENCH_ROOT="$scratch" timeout 900 "$PY" -m llmbench.cli validate fuse --jobs 1 \
        2>&1 | tail -n 20 | tee "$OUTDIR/validate.log")
    rm -rf "$scratch"
else
    echo "== llmbench validate skipped: pydantic/rich not importable (carry their wheels to run it)"
fi
exit "$status"
