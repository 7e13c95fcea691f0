"""The cuda kind (llmbench.kinds.cuda) and the fuse challenge's reference algorithm.

Three layers: pure helpers (always run); nvcc-driven phases and the worker's library
build (skip with "nvcc not found" without nvcc); and a NumPy model of the reference
kernel (tests/fixtures/cuda/fuse_model.py) run over the exact conformance inputs, which
checks the algorithm and that every mutant's bug is caught, without a GPU.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llmbench.kinds import cuda
from llmbench.sandbox import RunOutcome

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cuda"
FUSE = REPO / "challenges" / "fuse"
sys.path.insert(0, str(FIXTURES))
sys.path.insert(0, str(FUSE / "conformance"))
import fuse_model as fm  # noqa: E402
import fuse_oracle as oracle  # noqa: E402

ENTRY, BENCH_ENTRY = "fused_softmax_topk", "benchmark_fused_softmax_topk"  # challenges/fuse/host.py
needs_nvcc = pytest.mark.skipif(cuda.nvcc_path() is None, reason="nvcc not found")
FAKE_GPU = {"name": "fake", "driver": "0", "memory_mb": 0, "compute_cap": "9.0"}


# -- helpers -----------------------------------------------------------------------------

def test_markdown_detection():
    assert cuda.looks_like_markdown((FIXTURES / "markdown" / "fused_kernel.cu").read_text())
    assert not cuda.looks_like_markdown((FUSE / "reference" / "fused_topk.cu").read_text())
    assert not cuda.looks_like_markdown("# include <cstdio>\nint main() { return 0; }\n")
    assert not cuda.looks_like_markdown("#pragma once\n__device__ float f();\n")


def test_main_and_entry_detection_ignore_comments_and_strings():
    assert cuda.has_main("int main(int argc, char** argv) { return 0; }")
    assert not cuda.has_main("// int main() is below\n/* main( */ const char* s = \"main(\";")
    assert not cuda.has_main("void obj.main(); int x = a->main(1); void ns::main();")
    assert cuda.defines_entry('extern "C" int fused_softmax_topk(const float* l, int r, int v, int k,\n'
                              "    int* i, float* p) {\n return 0; }", ENTRY)
    assert not cuda.defines_entry("int fused_softmax_topk(const float*, int, int, int, int*, float*);", ENTRY)
    assert not cuda.defines_entry("rc = fused_softmax_topk(d, 1, 2, 3, i, p);", ENTRY)


def test_depfile_and_diagnostic_filtering(tmp_path):
    deps = cuda.parse_depfile(".llmbench_build/0_a.o : a.cu \\\n    /usr/include/stdio.h \\\n    sub/h.cuh \\\n"
                              "    /etc/hostname\n")
    assert deps == ["a.cu", "/usr/include/stdio.h", "sub/h.cuh", "/etc/hostname"]
    (tmp_path / "a.cu").write_text("x")
    text = ("/etc/secret(1): error: this declaration has no storage class\n  SECRET-TOKEN\n  ^\n\n"
            f"{tmp_path}/a.cu(3): error: expected a \";\"\n  int f(){{return 3}}\n  ^\n")
    out = cuda.relativise(cuda.filter_diagnostics(text, tmp_path, None), tmp_path)
    assert "SECRET-TOKEN" not in out and "withheld" in out
    assert 'a.cu(3): error: expected a ";"' in out and str(tmp_path) not in out


def test_first_errors_and_failure_lines():
    text = "warning: a\nkernel.cu(5): error: identifier \"FLT_MAX\" is undefined\n  float m = -FLT_MAX;\n" + "x\n" * 30
    first = cuda.first_errors(text)
    assert first.splitlines()[0].startswith("kernel.cu(5): error") and len(first.splitlines()) == cuda.MAX_ERROR_LINES
    assert cuda.reports_failure("case 3: FAIL (got 2)") == "case 3: FAIL (got 2)"
    assert cuda.reports_failure("Passed 10, FAILED: 0\nall done") is None
    assert cuda.reports_failure("0 FAILURES") is None
    assert cuda.reports_failure("Failure handling ok, failed=none") is None  # only upper-case words count


def test_arch_and_gpu_detection(monkeypatch, tmp_path):
    assert cuda.arch_for(None) == "sm_90"
    assert cuda.arch_for({"compute_cap": "8.6"}) == "sm_86"
    assert cuda.arch_for({"compute_cap": ""}) == "sm_90"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cuda.detect_gpu() is None  # no nvidia-smi at all
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 580.159.04, 81559, 9.0'\n")
    smi.chmod(0o755)
    assert cuda.detect_gpu() == {"name": "NVIDIA H100 80GB HBM3", "driver": "580.159.04", "memory_mb": 81559,
                                 "compute_cap": "9.0"}
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the driver' >&2\n"
                   "exit 9\n")
    assert cuda.detect_gpu() is None  # present but not working


def test_phases_without_nvcc_or_gpu(monkeypatch):
    for module in (cuda.compile, cuda.own_programs):  # the phases' own references
        monkeypatch.setattr(module, "nvcc_path", lambda: None)
    calls = []

    def run(argv, **kw):
        calls.append(argv)
        raise AssertionError("nothing may run")

    phase = cuda.compile_phase(FIXTURES / "good", run, timeout_s=60)
    assert (phase.name, phase.status, phase.reason) == ("compile", "not_run", "nvcc not found")
    phase = cuda.own_programs_phase(FIXTURES / "good", run, gpu=None, timeout_s=60)
    assert (phase.name, phase.status, phase.reason) == ("own_tests", "not_run", cuda.NO_DEVICE)
    assert phase.details["programs"] == ["test_host.cu"] and not calls


def test_own_programs_cannot_steer_the_trusted_side_through_the_build_folder(monkeypatch, tmp_path):
    """Issue 13: the build folder was inside the solution's copy: a program of the solution
    could replace it with a link, and the trusted side then deleted and read through it.
    nvcc and the programs are simulated (no nvcc needed); the first program attacks."""
    for module in (cuda.own_programs, cuda.build):
        monkeypatch.setattr(module, "nvcc_path", lambda: "/opt/fake/nvcc")
    monkeypatch.setattr(cuda.own_programs, "toolkit_root", lambda: None)
    solution = tmp_path / "solution"
    solution.mkdir()
    for name in ("a_test.cu", "b_test.cu"):
        (solution / name).write_text("int main() { return 0; }\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("own_1.d", "secret.d"):  # what the trusted side must neither delete nor read
        (outside / name).write_text("x.o : /SECRET_PATH_FROM_OUTSIDE\n")

    def run(argv, *, workdir, timeout_s, memory_mb=None, ro=(), rw=()):
        workdir = Path(workdir)
        if argv[0] == "/opt/fake/nvcc":
            dep = Path(argv[argv.index("-MF") + 1])
            dep = dep if dep.is_absolute() else workdir / dep
            exe = Path(argv[argv.index("-o") + 1])
            exe = exe if exe.is_absolute() else workdir / exe
            if not dep.parent.is_symlink():  # nvcc, as the sandbox's uid, cannot write outside
                dep.write_text(f"{exe} : {argv[argv.index('-O2') + 1]}\n")
                exe.write_text("#!/bin/sh\n")
        else:  # the solution's first program: swap the build folder (in the copy) for a link
            for folder in [workdir / cuda.BUILD_DIR, *map(Path, ro)]:
                if folder.is_symlink():
                    continue
                if folder.is_dir() and os.access(folder.parent, os.W_OK) and str(folder).startswith(str(workdir)):
                    shutil.rmtree(folder)
                    folder.symlink_to(outside)
                elif folder.is_dir():  # cannot be swapped: plant links inside instead
                    for name in ("own_1.d",):
                        (folder / name).unlink(missing_ok=True)
                        (folder / name).symlink_to(outside / "secret.d")
        return RunOutcome(0, False, 0.01, "", "")

    phase = cuda.own_programs_phase(solution, run, gpu=FAKE_GPU, timeout_s=60)
    assert sorted(p.name for p in outside.iterdir()) == ["own_1.d", "secret.d"], "deleted through a swapped link"
    assert "SECRET_PATH_FROM_OUTSIDE" not in phase.model_dump_json()
    assert [t.outcome for t in phase.tests] == ["passed", "passed"]


# -- compile phase and own programs (nvcc, no GPU) ------------------------------------------

@needs_nvcc
def test_compile_failures_recorded_with_first_errors():
    phase = cuda.compile_phase(FIXTURES / "broken", cuda.local_run, timeout_s=300, gpu=None)
    assert phase.status == "failed" and phase.counts == {"failed": 1}
    (rec,) = phase.tests
    assert rec.name == "topk.cu" and rec.outcome == "failed"
    assert "FLT_MAX" in rec.message and rec.message.startswith("topk.cu(")
    assert "llmbench-run-" not in rec.message + phase.log_tail  # no absolute copy paths
    assert phase.details["errors"]["topk.cu"] == rec.message and phase.details["arch"] == "sm_90"
    assert "topk.cu" in phase.reason
    assert not list((FIXTURES / "broken").glob(".llmbench_build"))  # the solution folder is untouched


@needs_nvcc
def test_markdown_saved_as_cu_fails_with_a_hint():
    phase = cuda.compile_phase(FIXTURES / "markdown", cuda.local_run, timeout_s=300, gpu=None)
    (rec,) = phase.tests
    assert phase.status == "failed" and rec.outcome == "failed"
    assert rec.message.startswith("looks like Markdown, not CUDA source")
    assert "error" in rec.message


@needs_nvcc
def test_includes_outside_the_copy_are_refused_and_not_quoted(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN_4c1f9 is not code\n")
    sol = tmp_path / "sol"
    sol.mkdir()
    (sol / "leak.cu").write_text(f'#include "{secret}"\nint f() {{ return 1; }}\n')
    (sol / "link.cu").symlink_to(secret)
    phase = cuda.compile_phase(sol, cuda.local_run, timeout_s=300, gpu=None)
    assert phase.status == "failed"
    recs = {t.name: t for t in phase.tests}
    assert "outside the solution" in recs["leak.cu"].message
    assert "outside the solution" in recs["link.cu"].message
    dump = phase.model_dump_json()
    assert "TOKEN_4c1f9" not in dump


@needs_nvcc
def test_headers_compiled_through_includers_or_alone():
    phase = cuda.compile_phase(FIXTURES / "good", cuda.local_run, timeout_s=300, gpu=None)
    assert phase.status == "ok", phase.reason
    assert sorted(t.name for t in phase.tests) == ["kernel.cu", "lonely.cuh", "test_host.cu"]
    assert phase.details["headers"] == {"helpers.cuh": ["kernel.cu", "test_host.cu"]}
    assert phase.details["nvcc"] == cuda.nvcc_version()


@needs_nvcc
def test_compile_budget_is_enforced():
    phase = cuda.compile_phase(FIXTURES / "good", cuda.local_run, timeout_s=0.5, gpu=None)
    assert phase.status == "timeout" and {t.outcome for t in phase.tests} <= {"timeout", "not_run"}


@needs_nvcc
def test_own_programs_built_and_run(tmp_path):
    sol = tmp_path / "sol"
    shutil.copytree(FIXTURES / "good", sol)
    shutil.copy(FIXTURES / "failing_program" / "check.cu", sol / "check.cu")
    phase = cuda.own_programs_phase(sol, cuda.local_run, gpu=FAKE_GPU, timeout_s=300)
    recs = {t.name: t for t in phase.tests}
    assert recs["test_host.cu"].outcome == "passed", recs["test_host.cu"].message
    assert recs["check.cu"].outcome == "failed" and "FAIL (index mismatch" in recs["check.cu"].message
    assert phase.status == "failed" and phase.counts == {"passed": 1, "failed": 1}
    assert "kernel.cu" not in recs  # no main: not a program


@needs_nvcc
@pytest.mark.slow
def test_reference_and_every_mutant_compile(tmp_path):
    """`nvcc -c -arch=sm_90` accepts the reference and each mutants/<trap>.patch applied to it."""
    sol = tmp_path / "variants"
    sol.mkdir()
    ref = (FUSE / "reference" / "fused_topk.cu").read_text()
    (sol / "reference.cu").write_text(ref)
    patches = sorted((FUSE / "mutants").glob("*.patch"))
    assert {p.stem for p in patches} == set(fm.MUTANTS)
    for patch in patches:
        work = tmp_path / patch.stem
        shutil.copytree(FUSE / "reference", work)
        subprocess.run(["git", "apply", "-p1", str(patch)], cwd=work, check=True)
        changed = (work / "fused_topk.cu").read_text()
        assert changed != ref
        (sol / f"{patch.stem}.cu").write_text(changed)
    phase = cuda.compile_phase(sol, cuda.local_run, timeout_s=900, gpu=None)
    assert phase.status == "ok", phase.details["errors"]
    assert phase.counts == {"passed": 1 + len(patches)}


@needs_nvcc
@pytest.mark.slow
def test_worker_library_from_solution_and_from_adapter(tmp_path):
    """load_entry_points builds a shared library exposing the canonical symbol; calling it
    needs a device (here: a clear CUDA error without one)."""
    sol = tmp_path / "ref"
    shutil.copytree(FUSE / "reference", sol)
    entries = cuda.load_for_challenge(sol, None, FUSE)
    assert set(entries) == {ENTRY, BENCH_ENTRY}
    built = list((sol / cuda.BUILD_DIR).glob("*.so"))
    assert len(built) == 1
    assert cuda.load_for_challenge(sol, None, FUSE).keys() == entries.keys()  # cached build reused
    assert list((sol / cuda.BUILD_DIR).glob("*.so")) == built
    if cuda.detect_gpu() is None:
        with pytest.raises(cuda.CudaError):
            entries[ENTRY](np.zeros((2, 100), dtype=np.float32), 5)
    else:
        logits = np.random.default_rng(0).standard_normal((3, 1000)).astype(np.float32)
        assert oracle.check(logits, 10, *entries[ENTRY](logits, 10)) == []

    renamed = tmp_path / "renamed"
    shutil.copytree(FIXTURES / "renamed_kernel", renamed)
    assert cuda.load_for_challenge(renamed, None, FUSE) == {}  # no canonical symbol: needs an adapter
    entries = cuda.load_for_challenge(renamed, FIXTURES / "renamed_adapter", FUSE)
    assert set(entries) == {ENTRY, BENCH_ENTRY}


# -- the reference algorithm, modelled in NumPy ---------------------------------------------

def test_model_constants_match_the_kernel():
    src = (FUSE / "reference" / "fused_topk.cu").read_text()

    def const(name):
        return int(re.search(rf"constexpr int {name} = (\d+);", src).group(1))

    assert const("kWarpsPerBlock") == fm.WARPS_PER_BLOCK
    assert const("kUnroll") == fm.UNROLL
    assert const("kMaxK") == fm.MAX_K
    assert f"by_vocab * 2 * {fm.SLICE_MIN} <= vocab" in src
    assert "next_pow2(2 * k)" in src and "next_pow2(k + 64)" in src and "n_buf < 128" in src


def test_keys_order_by_logit_then_lower_index():
    rng = np.random.default_rng(0)
    vals = np.concatenate([rng.standard_normal(200), [0.0, -0.0, np.inf, -np.inf, 3e38, -3e38, 1e-40, -1e-40]])
    vals = np.concatenate([vals, vals]).astype(np.float32)  # every value twice: ties
    cols = rng.permutation(vals.size)
    keys = fm.make_keys(vals, cols)
    order = np.argsort(keys)[::-1]
    expected = np.lexsort((cols, -vals.astype(np.float64)))
    assert np.array_equal(order, expected)
    for key, v, c in zip(keys[:20], vals[:20], cols[:20]):
        assert fm.key_value(key) == v and fm.key_column(key) == c


def test_bitonic_sort_and_rank_merge():
    rng = np.random.default_rng(1)
    model = fm.Model()
    for n in (128, 256, 512):
        buf = rng.integers(1, 2**63, size=n, dtype=np.uint64)
        buf[: n // 8] = 0  # sentinels
        want = np.sort(buf)[::-1]
        model.sort_desc(buf)
        assert np.array_equal(buf, want)
    k = 50
    a = np.zeros(128, dtype=np.uint64)
    b = np.zeros(128, dtype=np.uint64)
    a[:k] = np.sort(rng.integers(1, 2**63, size=k, dtype=np.uint64))[::-1]
    b[:30] = np.sort(rng.integers(1, 2**63, size=30, dtype=np.uint64))[::-1]  # fewer than k real
    want = np.sort(np.concatenate([a[:k], b[:k]]))[::-1][:k]
    model.merge(a, b, k)
    assert np.array_equal(a[:k], want)


def test_warps_per_row_choices():
    assert fm.warps_per_row(4096, 151936) == 1  # enough rows to fill 132 SMs
    assert fm.warps_per_row(4, 151936) == 16
    assert fm.warps_per_row(4, 32001) == 8
    assert fm.warps_per_row(37, 1000) == 1
    assert fm.warps_per_row(64, 4096) == 2


CASE_GROUPS = {
    "smoke": oracle.smoke_cases,
    "cross_warp_row_mix": lambda: oracle.row_mix_cases(max_rows=64),
    "partial_not_rescaled": oracle.rescale_cases,
    "ties_k_per_thread": oracle.ties_cases,
    "vocab_tail": oracle.tail_cases,
    "normalise_full_vocab": oracle.normalise_cases,
    "extreme": oracle.extreme_cases,
    "seeded": lambda: [c for seed in (101, 202, 303, 7) for c in oracle.seeded_cases(seed)],
}


@pytest.mark.slow
@pytest.mark.parametrize("group", list(CASE_GROUPS))
def test_model_of_reference_is_exact_on_conformance_inputs(group):
    """The reference algorithm returns exactly NumPy's stable top-k and its probabilities
    within float32 rounding on every conformance input (the 4096-row case cut to 64 rows)."""
    model = fm.Model()
    for case in CASE_GROUPS[group]():
        idx, prob = model.run(case.logits, case.k)
        want_idx, want_prob = oracle.expected_topk(case.logits, case.k)
        assert oracle.check(case.logits, case.k, idx, prob) == [], case.label
        assert np.array_equal(idx, want_idx), case.label
        np.testing.assert_allclose(prob, want_prob, rtol=2e-6, atol=1e-30, err_msg=case.label)


def test_model_handles_unaligned_rows_and_tiny_vocab():
    rng = np.random.default_rng(9)
    model = fm.Model()
    for vocab, k, misalign in ((7, 7, 1), (3, 2, 3), (1, 1, 0), (4099, 64, 2), (300, 256, 1)):
        x = rng.standard_normal((5, vocab)).astype(np.float32)
        idx, prob = model.run(x, k, base_misalign=misalign)
        want_idx, want_prob = oracle.expected_topk(x, k)
        assert np.array_equal(idx, want_idx)
        np.testing.assert_allclose(prob, want_prob, rtol=2e-6)


@pytest.mark.parametrize("trap", fm.MUTANTS)
def test_each_mutant_is_caught_by_its_trap_inputs(trap):
    """The mutant's bug, in the model, fails the conformance check on its trap's inputs."""
    model = fm.Model(trap)
    caught = []
    for case in CASE_GROUPS[trap]():
        if fm.warps_per_row(*case.logits.shape) == 1 and trap == "ties_k_per_thread":
            continue  # the compare-only-values bug shows only when a row's warps are merged
        problems = oracle.check(case.logits, case.k, *model.run(case.logits, case.k))
        if problems:
            caught.append(case.label)
            break
    assert caught, f"no {trap} input exposes the mutant"


def test_oracle_rejects_wrong_answers():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 300)).astype(np.float32)
    idx, prob = oracle.expected_topk(x, 5)
    prob = prob.astype(np.float32)
    assert oracle.check(x, 5, idx, prob) == []
    dup = idx.copy()
    dup[0, 4] = dup[0, 3]
    assert any("repeat" in p for p in oracle.check(x, 5, dup, prob))
    swapped = idx.copy()
    swapped[1, [0, 1]] = swapped[1, [1, 0]]
    assert any("non-increasing" in p for p in oracle.check(x, 5, swapped, prob))
    assert any("probabilities" in p for p in oracle.check(x, 5, idx, prob / prob.sum(axis=1, keepdims=True)))
    assert any("outside" in p for p in oracle.check(x, 5, idx - 1000, prob))
    assert oracle.check(x, 5, idx[:, :4], prob[:, :4])  # wrong shape


class _FakeDevice:
    """cudaMalloc / cudaMemGetInfo of a device whose largest free block is `largest` bytes."""

    def __init__(self, free: int, largest: int):
        self.free, self.largest, self.blocks = free, largest, {}

    def cudaMemGetInfo(self, free, total):
        free._obj.value, total._obj.value = self.free, 16 << 30
        return 0

    def cudaMalloc(self, ptr, size):
        if size > min(self.free, self.largest):
            return 2  # cudaErrorMemoryAllocation
        ptr._obj.value = 0x1000 + len(self.blocks) * (1 << 32)
        self.blocks[ptr._obj.value] = size
        self.free -= size
        return 0

    def cudaFree(self, ptr):
        self.free += self.blocks.pop(ptr.value)
        return 0

    def cudaGetLastError(self):
        return 0


@pytest.mark.parametrize("free_gib,largest_mib", [(10, 1 << 20), (10, 700), (0.05, 1 << 20)])
def test_device_memory_held_but_headroom(free_gib, largest_mib):
    """The fuse suite's cap on device memory (requirement 1): everything free but the headroom
    is held, in pieces when one block cannot take it all, and given back by freeing them."""
    from llmbench.kinds.cuda.runtime import CudaRuntime

    dev = _FakeDevice(int(free_gib * (1 << 30)), largest_mib << 20)
    rt = object.__new__(CudaRuntime)
    rt.lib = dev
    before = dev.free
    held = rt.reserve_all_but(128 << 20)
    if before <= 128 << 20:
        assert held == [] and dev.free == before
    else:
        assert (128 << 20) - (2 << 20) <= dev.free <= (130 << 20), dev.free
    for p in held:
        rt.free(p)
    assert dev.free == before and not dev.blocks
