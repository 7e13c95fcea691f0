"""llmbench benchmark: build-time ratios, harness overhead and reference-kernel figures.

Everything runs in a temporary copy of the project holding a synthetic study (models
synthetic-1..N whose solutions are references or mutants of the challenges), so the
repository's solutions/ and results/ are never touched. Usage:

    .venv/bin/python bench/run.py [--quick] [--jobs N] [--models M] [--challenges C] [--keep]
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPIED = ("challenges", "data", "docs", "analysis", "adapters")
# Python challenges first: --quick and the edit step use the cheap ones.
CHALLENGE_ORDER = ("backwards", "kv", "beam_search", "flash_attention", "flash_attention_bwd",
                   "dflash_verify", "ternary_training", "fuse")
GOALS = {"cold": 1.15, "warm": 1.1, "overhead": 0.3}


# ------------------------------------------------------------------------------ synthetic study
def pick_challenges(n: int, challenges_dir: Path = REPO / "challenges") -> list[str]:
    have = [c for c in CHALLENGE_ORDER if (challenges_dir / c / "reference").is_dir()]
    extra = sorted(p.name for p in challenges_dir.iterdir()
                   if (p / "reference").is_dir() and p.name not in have)
    return (have + extra)[:n]


def solution_choice(model_no: int, challenge_no: int, mutants: list[str]) -> str | None:
    """Which mutant (None: the reference) a synthetic model submits; deterministic, mixes both."""
    if not mutants or (model_no + challenge_no) % 2 == 0:
        return None
    return mutants[(model_no + challenge_no) // 2 % len(mutants)]


def apply_patch(folder: Path, patch: Path) -> None:
    for argv in (["git", "apply", "-p1", "--whitespace=nowarn", str(patch)],
                 ["patch", "-p1", "--batch", "--silent", "-i", str(patch)]):
        if subprocess.run(argv, cwd=folder, capture_output=True).returncode == 0:
            return
    raise RuntimeError(f"{patch} does not apply to {folder}")


def make_study(dest: Path, n_models: int, challenge_ids: list[str], src: Path = REPO) -> dict[str, dict[str, str]]:
    """Copy the project's content into dest and write solutions/synthetic-<i>/<challenge>/.

    Returns {model: {challenge: "reference" | "mutant:<trap>"}}.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for name in ("mkdocs.yml", "pyproject.toml"):
        shutil.copy2(src / name, dest / name)
    # mkdocstrings documents the installed package from src/: link it, never copy or write it.
    if not (dest / "src").exists():
        (dest / "src").symlink_to(src / "src", target_is_directory=True)
    chosen: dict[str, dict[str, str]] = {}
    for i in range(1, n_models + 1):
        model = f"synthetic-{i}"
        (dest / "solutions" / model).mkdir(parents=True, exist_ok=True)
        (dest / "solutions" / model / "model.toml").write_text(
            f'name = "Synthetic {i}"\nprovider = "llmbench bench"\n', encoding="utf-8")
        chosen[model] = {}
        for j, cid in enumerate(challenge_ids):
            cdir = dest / "challenges" / cid
            mutants = sorted(p.stem for p in (cdir / "mutants").glob("*.patch")) if (cdir / "mutants").is_dir() else []
            target = dest / "solutions" / model / cid
            shutil.copytree(cdir / "reference", target, ignore=shutil.ignore_patterns("__pycache__"))
            trap = solution_choice(i, j, mutants)
            if trap:
                apply_patch(target, cdir / "mutants" / f"{trap}.patch")
            chosen[model][cid] = f"mutant:{trap}" if trap else "reference"
    return chosen


def trim_analysis(dest: Path, keep: list[str], src: Path = REPO) -> list[str]:
    """A partial study (--quick) lacks results that analysis pages chart: keep only the
    analysis pages that name no challenge outside the study. Returns the dropped pages."""
    others = [p.name for p in (src / "challenges").iterdir() if (p / "challenge.toml").exists() and p.name not in keep]
    dropped = []
    for page in sorted((dest / "analysis").rglob("*.md")) if (dest / "analysis").is_dir() else []:
        text = page.read_text(encoding="utf-8")
        if page.name != "index.md" and any(re.search(rf"\b{re.escape(o)}\b", text) for o in others):
            page.unlink()
            dropped.append(page.relative_to(dest).as_posix())
    return dropped


def clear_site(root: Path) -> None:
    """Remove the built site and the plugin's cache (.llmbench/pages, .llmbench/charts): the next
    build is a cold one again; results stay."""
    for folder in (root / "site", root / ".llmbench" / "pages", root / ".llmbench" / "charts"):
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------ commands
class Timed:
    """Runs commands in the study copy, remembering each command line and its wall time."""

    def __init__(self, root: Path, verbose: bool):
        self.root, self.verbose = root, verbose
        self.env = {**os.environ, "LLMBENCH_ROOT": str(root), "PYTHONDONTWRITEBYTECODE": "1",
                    "COLUMNS": "200"}  # rich must not wrap the lines we parse
        self.log: list[tuple[str, float]] = []

    def run(self, argv: list[str], label: str, ok_rc: tuple[int, ...] = (0,)) -> tuple[float, str]:
        shown = " ".join(a.replace(str(BIN) + "/", "") for a in argv)
        print(f"$ {shown}   # {label}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=self.root, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        self.log.append((shown, wall))
        if self.verbose or proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        print(f"  -> {wall:.2f} s (rc {proc.returncode})", flush=True)
        if proc.returncode not in ok_rc:
            raise SystemExit(f"bench: `{shown}` failed with rc {proc.returncode}")
        return wall, proc.stdout + proc.stderr


def median(values) -> float:
    """The middle one of repeated timings of the same work (the upper middle of an even count): a
    2-core VM's speed swings by 15-25% from one build to the next."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


# ------------------------------------------------------------------------------ plain site
def export_plain_docs(root: Path) -> Path:
    """Render every page the llmbench plugin makes (and the directives of hand-written pages)
    once into plain markdown/static files, and write mkdocs-plain.yml without the plugin.

    Runs in a subprocess-free way inside this process; it is setup, not timed.
    """
    import yaml
    from mkdocs.config import load_config
    from mkdocs.structure.files import get_files
    from mkdocs.structure.pages import Page

    os.environ["LLMBENCH_ROOT"] = str(root)
    cfg = load_config(str(root / "mkdocs.yml"))
    cfg = cfg.plugins.on_config(cfg)
    files = cfg.plugins.on_files(get_files(cfg), config=cfg)
    plugin = cfg.plugins["llmbench"]
    out = root / "plain_docs"
    for f in files:
        dest = out / f.src_uri
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not f.src_uri.endswith(".md"):
            dest.write_bytes(f.content_bytes)
            continue
        page = Page(None, f, cfg)
        text = "" if f.src_uri in plugin.generated else f.content_string
        text = plugin.on_page_markdown(text, page=page, config=cfg, files=files)
        stash = plugin.stashes.pop(f.src_uri, None)
        if stash:  # raw HTML goes inline: markdown passes block-level HTML through
            for token, html in stash.items.items():
                text = text.replace(token, html)
        dest.write_text(text, encoding="utf-8")

    class Loader(yaml.SafeLoader):  # mkdocs.yml uses mkdocs' !ENV [NAME, default] tag
        pass

    def env_tag(loader, node):
        names = loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else [loader.construct_scalar(node)]
        return next((os.environ[n] for n in names[:-1] if n in os.environ), names[-1] if len(names) > 1 else None)

    Loader.add_constructor("!ENV", env_tag)
    raw = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    plugins = []
    for p in raw.get("plugins", []):
        name = next(iter(p)) if isinstance(p, dict) else p
        if name == "llmbench":
            continue
        if name == "mkdocstrings":
            p["mkdocstrings"]["handlers"]["python"]["paths"] = [str(root / "src")]
        plugins.append(p)
    raw.update(plugins=plugins, docs_dir=str(out), site_dir=str(root / "plain_site"), nav=cfg.nav,
               extra_css=[str(x) for x in cfg.extra_css], extra_javascript=[str(x) for x in cfg.extra_javascript])
    raw["strict"] = False  # inlined raw HTML may trip link validation; the build time is what we want
    (root / "mkdocs-plain.yml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return root / "mkdocs-plain.yml"


# ------------------------------------------------------------------------------ result figures
def load_results(results_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results_dir.rglob("*.json"))]


def in_test_seconds(result: dict) -> float:
    return sum(t.get("duration_s", 0.0) for ph in result.get("phases", {}).values() for t in ph.get("tests", []))


def overhead_split(results: list[dict]) -> dict[str, float]:
    """Mean seconds outside tests, per phase (phase time - its tests) and outside every phase."""
    acc: dict[str, list[float]] = {}
    for r in results:
        phases = r.get("phases", {})
        for name, ph in phases.items():
            if ph.get("status") in ("not_run",):
                continue
            acc.setdefault(name, []).append(ph.get("duration_s", 0.0) - sum(t.get("duration_s", 0.0)
                                                                            for t in ph.get("tests", [])))
        acc.setdefault("outside phases", []).append(r["duration_s"] - sum(ph.get("duration_s", 0.0)
                                                                         for ph in phases.values()))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def result_stamps(results_dir: Path) -> dict[str, int]:
    return {p.relative_to(results_dir).as_posix(): p.stat().st_mtime_ns for p in results_dir.rglob("*.json")}


def bare_worker_seconds(root: Path, cid: str, tries: int = 3) -> float:
    """Start a sandboxed worker on the reference and make one trivial call (has())."""
    from llmbench.challenge import load_challenges
    from llmbench.conformance.client import SolutionProxy, WorkerConfig

    c = load_challenges(root / "challenges")[cid]
    times = []
    for _ in range(tries):
        t0 = time.perf_counter()
        proxy = SolutionProxy(WorkerConfig(solution=c.reference_dir, support=c.path, **c.kind_impl.worker_fields(c.kind_options)))
        try:
            proxy.has("no_such_entry_point")
        finally:
            proxy.close()
        times.append(time.perf_counter() - t0)
    return min(times)


# ------------------------------------------------------------------------------ kernels
def kernel_figures(n: int = 1024, d: int = 64, tile: int = 64) -> dict[str, float]:
    """Reference flash fwd/bwd vs naive NumPy at (1, 2, n, d): time and tracemalloc peak."""
    import importlib.util
    import tracemalloc

    import numpy as np

    def load(path: Path):
        spec = importlib.util.spec_from_file_location(path.stem + "_bench", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    fwd = load(REPO / "challenges/flash_attention/reference/flash_attention.py").flash_attention_fwd
    bwd_mod = load(REPO / "challenges/flash_attention_bwd/reference/flash_attention_bwd.py")
    rng = np.random.default_rng(0)
    Q, K, V, dO = (rng.standard_normal((1, 2, n, d)) for _ in range(4))
    mask = np.triu(np.ones((n, n), bool), 1)

    def naive_fwd():
        S = Q @ K.swapaxes(-1, -2) / np.sqrt(d)
        S = np.where(mask, -np.inf, S)
        P = np.exp(S - S.max(-1, keepdims=True))
        P /= P.sum(-1, keepdims=True)
        return P @ V, P

    def naive_bwd():
        O, P = naive_fwd()
        dV = P.swapaxes(-1, -2) @ dO
        dP = dO @ V.swapaxes(-1, -2)
        dS = P * (dP - (dP * P).sum(-1, keepdims=True)) / np.sqrt(d)
        return dS @ K, dS.swapaxes(-1, -2) @ Q, dV

    _, cache = bwd_mod.flash_attention_fwd(Q, K, V, tile)

    def measure(fn):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out, secs, peak

    f_out, f_s, f_mem = measure(lambda: fwd(Q, K, V, tile, causal=True))
    (n_out, _), n_s, n_mem = measure(naive_fwd)
    b_out, b_s, b_mem = measure(lambda: bwd_mod.flash_attention_bwd(dO, cache, tile))
    nb_out, nb_s, nb_mem = measure(naive_bwd)
    fwd_err = float(np.max(np.abs(f_out - n_out)))
    bwd_err = float(max(np.max(np.abs(a - b)) for a, b in zip(b_out, nb_out)))
    return {"n": n, "d": d, "tile": tile, "flash_fwd_s": f_s, "naive_fwd_s": n_s, "flash_fwd_peak_mb": f_mem / 2**20,
            "naive_fwd_peak_mb": n_mem / 2**20, "flash_bwd_s": b_s, "naive_bwd_s": nb_s,
            "flash_bwd_peak_mb": b_mem / 2**20, "naive_bwd_peak_mb": nb_mem / 2**20,
            "fwd_max_abs_diff": fwd_err, "bwd_max_abs_diff": bwd_err}


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 models x 3 challenges: a fast check")
    ap.add_argument("--models", type=int, help="synthetic models (default 6, quick 2)")
    ap.add_argument("--challenges", type=int, help="challenges (default 8, quick 3)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs (default: cores)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary project and print its path")
    ap.add_argument("--kernel-n", type=int, default=1024, help="sequence length of the kernel figures")
    ap.add_argument("--repeats", type=int, default=3,
                    help="plain builds, cold and warm site builds are timed this many times; the median "
                         "counts (default 3)")
    ap.add_argument("--cold-runs", type=int, help="cold llmbench runs (results removed before each); the median "
                    "wall and the median raw test time count (default: --repeats with --quick, else 1)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show the commands' output")
    args = ap.parse_args(argv)
    n_models = args.models or (2 if args.quick else 6)
    ids = pick_challenges(args.challenges or (3 if args.quick else 8))
    cores = os.cpu_count() or 1
    llmbench, mkdocs = str(BIN / "llmbench"), str(BIN / "mkdocs")

    # The harness as installed (`make venv` compiles it): bytecode cached, as any earlier run of
    # Python would have left it, even though the bench's own runs write none (PYTHONDONTWRITEBYTECODE).
    compileall.compile_dir(str(REPO / "src" / "llmbench"), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="llmbench-bench-"))
    root = tmp / "project"
    try:
        chosen = make_study(root, n_models, ids)
        partial = sorted(ids) != sorted(pick_challenges(99))
        dropped = trim_analysis(root, ids) if partial else []
        print(f"synthetic study in {root}: {n_models} models x {len(ids)} challenges ({', '.join(ids)}); "
              f"{cores} cores, --jobs {args.jobs}")
        for model, picks in chosen.items():
            print(f"  {model}: " + ", ".join(f"{c}={v}" for c, v in picks.items()))
        if dropped:
            print(f"  partial study: analysis pages charting other challenges left out: {', '.join(dropped)}")
        t = Timed(root, args.verbose)
        # a partial study runs the controls of its own challenges only
        # llmbench run exits 1 when it reports a harness error: still timed, and shown in the output
        run_cmd = [llmbench, "run", "--jobs", str(args.jobs)] + \
            [a for cid in ids for a in ("--challenge", cid)] * partial
        build_cmd = [mkdocs, "build", "--strict", "--quiet"]

        # 1. cold full build: every solution + controls, then the site
        cold_runs = args.cold_runs or (args.repeats if args.quick else 1)
        runs: list[tuple[float, float]] = []  # (wall, raw pytest seconds) of each cold run
        for i in range(cold_runs):
            if i:  # the same cold run again: its results removed
                shutil.rmtree(root / "results", ignore_errors=True)
            wall, _ = t.run(run_cmd, f"cold: all solutions + controls ({i + 1}/{cold_runs})", ok_rc=(0, 1))
            runs.append((wall, sum(in_test_seconds(r) for r in load_results(root / "results"))))
        cold_run = median(w for w, _ in runs)
        raw_pytest = median(r for _, r in runs)
        cold_sites = [t.run(build_cmd, "cold: site with the llmbench plugin")[0]]
        results = load_results(root / "results")
        plain_yml = export_plain_docs(root)
        plain_cmd = [mkdocs, "build", "--quiet", "-f", str(plain_yml)]
        t.run(plain_cmd, "plain mkdocs, warm-up (not counted)")
        # Cold and plain builds alternate: a drift of this machine's speed over the minute weighs on
        # both sides of the ratio alike, instead of on whichever happened to run in the slow stretch.
        plains = []
        for i in range(args.repeats):
            if i:  # the same cold build again: the site's cache and output cleared
                clear_site(root)
                cold_sites.append(t.run(build_cmd, f"cold site again, its cache cleared ({i + 1}/{args.repeats})")[0])
            plains.append(t.run(plain_cmd, f"plain mkdocs build of the same pages ({i + 1}/{args.repeats})")[0])
        cold_site, plain_site = median(cold_sites), median(plains)
        limit = raw_pytest / cores + plain_site
        cold = cold_run + cold_site

        # 2. warm rebuild: nothing changed; each warm run + build followed by a plain build again (its
        # own plain median: the machine's speed may have drifted since the cold builds)
        warm_runs, warm_sites, warm_plains = [], [], []
        for i in range(args.repeats):
            warm_runs.append(t.run(run_cmd, f"warm: nothing changed ({i + 1}/{args.repeats})", ok_rc=(0, 1))[0])
            warm_sites.append(t.run(build_cmd, f"warm: site ({i + 1}/{args.repeats})")[0])
            warm_plains.append(t.run(plain_cmd, f"plain mkdocs build, next to the warm ones ({i + 1}/{args.repeats})")[0])
        warm_run, warm_site, warm_plain = median(warm_runs), median(warm_sites), median(warm_plains)
        warm = warm_run + warm_site

        # 3. one file of one solution edited
        model, cid = "synthetic-1", ids[0]
        target = sorted((root / "solutions" / model / cid).rglob("*.py"))[0]
        before = result_stamps(root / "results")
        with open(target, "a", encoding="utf-8") as fh:
            fh.write("\n# edited by the bench\n")
        edit_run, edit_out = t.run(run_cmd, f"edit: {target.relative_to(root)} changed", ok_rc=(0, 1))
        edit_site, _ = t.run(build_cmd, "edit: site")
        after = result_stamps(root / "results")
        rerun = sorted(k for k in after if before.get(k) != after[k])
        planned = next((line.strip() for line in edit_out.splitlines() if "runs planned" in line), "?")
        only_touched = rerun == [f"{model}/{cid}.json"]

        # 3b. one adapter edited: only that solution's conformance re-runs, its own tests are reused
        adapter_toml = root / "adapters" / model / cid / "adapter.toml"
        adapter_toml.parent.mkdir(parents=True, exist_ok=True)
        with open(adapter_toml, "a", encoding="utf-8") as fh:
            fh.write('\nnotes = "edited by the bench"\n')
        before = result_stamps(root / "results")
        adapter_run, adapter_out = t.run(run_cmd, f"adapter edit: {adapter_toml.relative_to(root)} changed", ok_rc=(0, 1))
        adapter_site, _ = t.run(build_cmd, "adapter edit: site")
        after = result_stamps(root / "results")
        adapter_rerun = sorted(k for k in after if before.get(k) != after[k])
        adapter_planned = next((line.strip() for line in adapter_out.splitlines() if "runs planned" in line), "?")
        edited = json.loads((root / "results" / model / f"{cid}.json").read_text())
        phases = edited.get("phases", {})
        rerun_phases = sorted(n for n, ph in phases.items() if not ph.get("reused_from"))
        reused_phases = sorted(n for n, ph in phases.items() if ph.get("reused_from"))
        only_conformance = adapter_rerun == [f"{model}/{cid}.json"] and rerun_phases == ["conformance"]

        # 4. harness overhead per solution
        overheads = [r["duration_s"] - in_test_seconds(r) for r in results]
        overhead = sum(overheads) / len(overheads)
        split = overhead_split(results)
        bare = bare_worker_seconds(root, ids[0])

        # 5. reference kernels vs naive NumPy
        k = kernel_figures(args.kernel_n)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\n== figures ==")
    print(f"runs: {len(results)} results ({sum(r['run_kind'] == 'solution' for r in results)} solutions, "
          f"{sum(r['run_kind'] != 'solution' for r in results)} controls)")
    print(f"cold build {cold:.1f} s = llmbench run {cold_run:.1f} s + mkdocs build {cold_site:.1f} s (medians; "
          f"cold runs {', '.join(f'{w:.1f}' for w, _ in runs)} s, cold site builds "
          f"{', '.join(f'{w:.1f}' for w in cold_sites)} s)")
    print(f"limit {limit:.1f} s = raw pytest {raw_pytest:.1f} s (sum of per-test durations) / {cores} cores"
          f" + plain mkdocs {plain_site:.1f} s")
    print(f"warm rebuild {warm:.1f} s = llmbench run {warm_run:.1f} s + mkdocs build {warm_site:.1f} s; "
          f"plain mkdocs {warm_plain:.1f} s (the plain builds alternating with the warm ones)")
    print(f"edit: `{planned}`; result files rewritten: {', '.join(rerun) or 'none'}; "
          f"wall {edit_run + edit_site:.1f} s (run {edit_run:.1f} s + site {edit_site:.1f} s)")
    print(f"adapter edit: `{adapter_planned}`; result files rewritten: {', '.join(adapter_rerun) or 'none'}; "
          f"phases re-run: {', '.join(rerun_phases) or 'none'}, reused: {', '.join(reused_phases) or 'none'}; "
          f"wall {adapter_run + adapter_site:.1f} s (run {adapter_run:.1f} s + site {adapter_site:.1f} s)")
    print(f"study-sized run ({n_models} models x {len(ids)} challenges, {len(results)} runs): cold {cold:.1f} s, "
          f"warm {warm:.1f} s, after one adapter edit {adapter_run + adapter_site:.1f} s")
    print(f"overhead per run (Result.duration_s - in-test time): mean {overhead:.3f} s, "
          f"min {min(overheads):.3f} s, max {max(overheads):.3f} s over {len(overheads)} runs")
    print("  of which (mean s): " + ", ".join(f"{k} {v:.3f}" for k, v in split.items()))
    print(f"bare worker start + one trivial call (SolutionProxy.has, best of 3): {bare:.3f} s")
    print(f"kernels at (B=1, H=2, N={k['n']}, D={k['d']}), tile {k['tile']}, causal, float64:")
    print(f"  forward : flash {k['flash_fwd_s']:.3f} s, peak {k['flash_fwd_peak_mb']:.1f} MiB | naive "
          f"{k['naive_fwd_s']:.3f} s, peak {k['naive_fwd_peak_mb']:.1f} MiB | max |diff| {k['fwd_max_abs_diff']:.1e}")
    print(f"  backward: flash {k['flash_bwd_s']:.3f} s, peak {k['flash_bwd_peak_mb']:.1f} MiB | naive "
          f"{k['naive_bwd_s']:.3f} s, peak {k['naive_bwd_peak_mb']:.1f} MiB | max |diff| {k['bwd_max_abs_diff']:.1e}")

    rows = [
        ("cold build / limit", f"{cold / limit:.2f}", f"<= {GOALS['cold']}", cold / limit <= GOALS["cold"]),
        ("warm rebuild / plain mkdocs", f"{warm / warm_plain:.2f}", f"<= {GOALS['warm']}",
         warm / warm_plain <= GOALS["warm"]),
        ("harness overhead per run (s)", f"{overhead:.3f}", f"<= {GOALS['overhead']}", overhead <= GOALS["overhead"]),
        ("re-run after one edit", f"{len(rerun)} run(s)", "only the touched one", only_touched),
        ("re-run after one adapter edit", f"{len(adapter_rerun)} run(s): {', '.join(rerun_phases) or 'none'}",
         "that one's conformance only", only_conformance),
        (f"study {n_models}x{len(ids)}: cold/warm/adapter (s)",
         f"{cold:.0f}/{warm:.0f}/{adapter_run + adapter_site:.0f}", "(info)", None),
        ("flash fwd peak / naive peak", f"{k['flash_fwd_peak_mb'] / k['naive_fwd_peak_mb']:.2f}", "(info)", None),
        ("flash bwd peak / naive peak", f"{k['flash_bwd_peak_mb'] / k['naive_bwd_peak_mb']:.2f}", "(info)", None),
    ]
    print("\n== summary ==")
    print(f"{'figure':<36} {'value':>24}  {'goal':<28} met?")
    for name, value, goal, met in rows:
        print(f"{name:<36} {value:>24}  {goal:<28} {'-' if met is None else ('yes' if met else 'NO')}")
    print("\ncommands (wall s):")
    for shown, wall in t.log:
        print(f"  {wall:8.2f}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
