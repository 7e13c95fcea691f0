"""GPU check of the fuse challenge, driven by bench/gpu_fuse_check.sh.

1. builds the reference and every mutant (reference + mutants/<trap>.patch) in parallel;
2. runs the conformance suite on the reference (every test must pass) and, for each mutant,
   its trap's tests plus the smoke tests (the trap's test must fail);
3. sweeps the reference's bandwidth over a few shapes, next to PyTorch's unfused
   softmax + topk when torch is importable;
4. writes OUTDIR/summary.json and OUTDIR/records.json and prints a short table last.

Trusted code only: the suite runs in-process through bench/fuse_local_plugin.py.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUSE = ROOT / "challenges" / "fuse"
sys.path.insert(0, str(ROOT / "src"))

from llmbench.kinds import cuda  # noqa: E402

SWEEP = [(4096, 151936, 50), (4096, 151936, 10), (4096, 151936, 1), (4096, 50257, 50), (4096, 32000, 50),
         (1024, 151936, 50), (64, 151936, 50)]


def apply_patch(patch: str, folder: Path) -> None:
    """Apply a one-file unified diff (a/<file> b/<file>) by exact context matching."""
    lines = patch.splitlines(keepends=True)
    target = next(ln[4:].split("\t")[0].strip() for ln in lines if ln.startswith("+++ "))
    path = folder / target.split("/", 1)[1]
    src = path.read_text().splitlines(keepends=True)
    out, pos, i = [], 0, 0
    while i < len(lines):
        if not lines[i].startswith("@@"):
            i += 1
            continue
        start = int(lines[i].split()[1].split(",")[0][1:]) - 1
        i += 1
        old, new = [], []
        while i < len(lines) and not lines[i].startswith("@@"):
            tag, text = lines[i][:1], lines[i][1:]
            if tag in (" ", "-"):
                old.append(text)
            if tag in (" ", "+"):
                new.append(text)
            i += 1
        if src[start:start + len(old)] != old:
            raise ValueError(f"hunk at line {start + 1} does not match {path.name}")
        out += src[pos:start] + new
        pos = start + len(old)
    path.write_text("".join(out + src[pos:]))


def variants(work: Path) -> dict[str, Path]:
    out = {"reference": work / "reference"}
    shutil.copytree(FUSE / "reference", out["reference"])
    for patch in sorted((FUSE / "mutants").glob("*.patch")):
        dest = work / patch.stem
        shutil.copytree(FUSE / "reference", dest)
        apply_patch(patch.read_text(), dest)
        out[patch.stem] = dest
    return out


def prebuild(dirs: dict[str, Path], arch: str) -> dict[str, str]:
    """Build every variant's library at once (the suites then reuse the cached .so)."""
    def one(item):
        name, folder = item
        start = time.perf_counter()
        try:
            cuda.build_library(folder, None, arch)
            return name, f"built in {time.perf_counter() - start:.1f} s"
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            return name, f"BUILD FAILED: {exc}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(dirs)) as pool:
        return dict(pool.map(one, dirs.items()))


def run_suite(folder: Path, out: Path, only_trap: str | None, timeout_s: float) -> tuple[list[dict], str]:
    argv = [sys.executable, "-m", "pytest", str(FUSE / "conformance"), "-p", "fuse_local_plugin", "-p",
            "no:cacheprovider", "-o", "addopts=", "--rootdir", str(FUSE), "-q", "--tb=short",
            "--fuse-solution", str(folder), "--fuse-out", str(out)]
    if only_trap:
        argv += ["--fuse-only-trap", only_trap]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'bench'}:{os.environ.get('PYTHONPATH', '')}"}
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=ROOT)
        log = p.stdout[-6000:] + p.stderr[-2000:]
    except subprocess.TimeoutExpired:
        log = f"suite timed out after {timeout_s} s"
    records = json.loads(out.read_text()) if out.exists() else []
    return records, log


def torch_baseline(rows: int, vocab: int, k: int, repeats: int = 20) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    x = torch.randn(rows, vocab, device="cuda", dtype=torch.float32)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(repeats + 3):
        start.record()
        p = torch.softmax(x, dim=-1)
        torch.topk(p, k, dim=-1)
        stop.record()
        torch.cuda.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(stop))
    del x, p
    torch.cuda.empty_cache()
    ms = sorted(times)[len(times) // 2]
    return {"ms": ms, "logits_gbps": rows * vocab * 4 / (ms * 1e6)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--skip-sweep", action="store_true")
    opts = ap.parse_args()
    opts.outdir.mkdir(parents=True, exist_ok=True)
    gpu = cuda.detect_gpu()
    print("device:", gpu, "nvcc:", cuda.nvcc_version(), flush=True)
    if gpu is None:
        print("no CUDA device: nothing to check here")
        return 2
    summary: dict = {"gpu": gpu, "nvcc": cuda.nvcc_version()}
    work = Path(tempfile.mkdtemp(prefix="fuse-check-"))
    dirs = variants(work)
    summary["builds"] = prebuild(dirs, cuda.arch_for(gpu))
    print("builds:", json.dumps(summary["builds"], indent=1), flush=True)

    all_records = {}
    ref_records, ref_log = run_suite(dirs["reference"], work / "reference.json", None, 900)
    all_records["reference"] = ref_records
    print(ref_log[-3000:], flush=True)
    ref_ok = bool(ref_records) and all(r["outcome"] == "passed" for r in ref_records)
    summary["reference"] = {"ok": ref_ok, "tests": {r["name"]: r["outcome"] for r in ref_records},
                            "metrics": {k: v for r in ref_records for k, v in r["metrics"].items()}}
    summary["mutants"] = {}
    for trap, folder in dirs.items():
        if trap == "reference":
            continue
        recs, log = run_suite(folder, work / f"{trap}.json", trap, 600)
        all_records[trap] = recs
        trap_tests = [r for r in recs if r["trap"] == trap]
        caught = any(r["outcome"] == "failed" for r in trap_tests)
        first = next((r["message"].strip().splitlines()[-1] for r in trap_tests if r["outcome"] == "failed"), "")
        summary["mutants"][trap] = {"caught": caught, "tests": {r["name"]: r["outcome"] for r in recs},
                                    "why": first[:300]}
        if not recs:
            summary["mutants"][trap]["log"] = log[-1500:]
        print(f"mutant {trap}: {'caught' if caught else 'MISSED'} {first[:200]}", flush=True)

    sweep = []
    if not opts.skip_sweep:
        entries = cuda.load_for_challenge(dirs["reference"], None, FUSE)
        bench = entries["benchmark_fused_softmax_topk"]
        for rows, vocab, k in SWEEP:
            r = bench(rows, vocab, k, 20, 11)
            row = {"rows": rows, "V": vocab, "K": k, "kernel_ms": round(r["kernel_ms"], 4),
                   "event_ms": round(r["event_ms"], 4), "logits_gbps": round(r["logits_gbps"], 1),
                   "copy_gbps": round(r["copy_gbps"], 1), "fraction": round(r["logits_gbps"] / r["copy_gbps"], 3)}
            if (rows, vocab) == (4096, 151936) and k in (50, 10):
                base = torch_baseline(rows, vocab, k)
                if base:
                    row["torch_ms"], row["torch_gbps"] = round(base["ms"], 4), round(base["logits_gbps"], 1)
            sweep.append(row)
            print("sweep:", row, flush=True)
    summary["sweep"] = sweep
    (opts.outdir / "summary.json").write_text(json.dumps(summary, indent=1))
    (opts.outdir / "records.json").write_text(json.dumps(all_records, indent=1))
    shutil.rmtree(work, ignore_errors=True)

    print("\n==== fuse GPU check ====")
    print(f"device {gpu['name']} (driver {gpu['driver']}), nvcc {summary['nvcc']}")
    print(f"reference: {'all tests passed' if ref_ok else 'FAILED'} "
          + ", ".join(f"{n}={o}" for n, o in summary["reference"]["tests"].items() if o != "passed"))
    for trap, m in summary["mutants"].items():
        print(f"  mutant {trap:22s} {'caught' if m['caught'] else 'MISSED'}")
    for row in sweep:
        extra = f"  torch {row['torch_gbps']} GB/s" if "torch_gbps" in row else ""
        print(f"  rows {row['rows']:5d} V {row['V']:6d} K {row['K']:3d}: {row['kernel_ms']:.3f} ms "
              f"{row['logits_gbps']:7.1f} GB/s = {row['fraction']:.2f} of copy {row['copy_gbps']:.0f} GB/s{extra}")
    ok = ref_ok and all(m["caught"] for m in summary["mutants"].values())
    print("RESULT:", "ok" if ok else "PROBLEMS (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
