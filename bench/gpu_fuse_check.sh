#!/usr/bin/env bash
# GPU check of the fuse challenge in one run (a few minutes on an H100):
#   - the reference passes the whole conformance suite, every mutant fails its trap's test
#     (in-process loader, no sandbox: bench/fuse_local_plugin.py);
#   - bandwidth sweep of the reference, next to PyTorch's softmax + topk when torch is there;
#   - when the full harness imports (pydantic, rich), also `llmbench validate fuse` (sandboxed
#     worker, fallback isolation unless bubblewrap works) in a scratch project.
# Needs: nvidia-smi, nvcc, python3 with numpy and pytest. Run from anywhere:
#   bash bench/gpu_fuse_check.sh [OUTDIR]        (default: $OUT, else /tmp/fuse-check)
#   STUDY=.carry/llm_programming_tests-72fa1f8.tar.gz bash bench/gpu_fuse_check.sh   (also the study's kernels)
# Then, here: tar -xzf OUTDIR/fuse-results.tar.gz -C /tmp/gpu && llmbench merge /tmp/gpu/results
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

# The study's kernels through their adapters, as committed (issue 17): needs the study archive
# (STUDY=path to a folder, clone or .tar.gz; the device has no network) and the full harness.
if [ -n "${STUDY:-}" ] && "$PY" -c "import pydantic, rich" 2>/dev/null; then
    echo "== the study's fuse kernels (llmbench run --challenge fuse)"
    scratch=$(mktemp -d /tmp/fuse-study.XXXXXX)
    mkdir -p "$scratch/solutions" "$scratch/adapters" "$scratch/challenges"
    cp -r "$ROOT/challenges/fuse" "$scratch/challenges/"
    cp -r "$ROOT/data" "$scratch/"
    for a in "$ROOT"/adapters/*/fuse; do
        [ -d "$a" ] || continue
        m=$(basename "$(dirname "$a")"); mkdir -p "$scratch/adapters/$m"; cp -r "$a" "$scratch/adapters/$m/"
    done
    src=$STUDY
    if [ -f "$src" ]; then  # an archive: import takes a folder
        mkdir "$scratch/study" && tar -xzf "$src" -C "$scratch/study" && src=$(ls -d "$scratch"/study/*/ | head -n 1)
    fi
    (cd "$scratch" && export LLMBENCH_ROOT="$scratch" &&
        "$PY" -m llmbench.cli import "$src" | tail -n 3 &&
        timeout 900 "$PY" -m llmbench.cli run --challenge fuse --jobs 4 2>&1 | tail -n 30 | tee "$OUTDIR/study-fuse.log")
    # One archive of result files: `llmbench merge` takes the extracted folder on the CPU side.
    tar -C "$scratch" -czf "$OUTDIR/fuse-results.tar.gz" results
    rm -rf "$scratch"
else
    echo "== the study's kernels skipped: set STUDY= to the study's archive and carry pydantic/rich wheels"
fi
exit "$status"
