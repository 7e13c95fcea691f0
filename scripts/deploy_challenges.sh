#!/usr/bin/env bash
# Lay out solutions/MODEL/ with every challenge's PROMPT.md (and the data files a prompt
# needs) plus model.toml, then print the challenges by difficulty.
# A thin wrapper over `llmbench new-model MODEL`, which does the work and the checks.
set -euo pipefail

usage() {
    echo "usage: $0 -n MODEL" >&2
    echo "  MODEL: a model id, [a-z0-9][a-z0-9._-]* (e.g. glm5.1, kimi-k2.6)" >&2
}

model=""
while getopts ":n:h" opt; do
    case "$opt" in
        n) model="$OPTARG" ;;
        h) usage; exit 0 ;;
        :) echo "$0: -$OPTARG needs a value" >&2; usage; exit 2 ;;
        *) echo "$0: unknown option -$OPTARG" >&2; usage; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ -z "$model" ] || [ "$#" -ne 0 ]; then
    usage
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Prefer the repository's own virtual environment, then whatever llmbench is on PATH.
if [ -x "$root/.venv/bin/llmbench" ]; then
    llmbench="$root/.venv/bin/llmbench"
elif command -v llmbench >/dev/null 2>&1; then
    llmbench="$(command -v llmbench)"
else
    echo "$0: llmbench is not installed; run: python -m venv .venv && .venv/bin/pip install -e ." >&2
    exit 2
fi
cd "$root"
exec "$llmbench" new-model "$model"
