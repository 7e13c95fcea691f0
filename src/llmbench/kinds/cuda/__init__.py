"""The cuda kind: a solution is CUDA sources. Runs compile them (no GPU needed), build and run the
solution's own test programs, and run our suite against the kernel built behind the
challenge's host ABI (both need a GPU; without one they are not run: our gap, never a verdict).

One job per module: `machine` (GPU, nvcc, toolkit facts), `sources` (reading .cu files),
`diagnostics` (compiler output made safe to record), `build` (one nvcc call in the sandbox),
`sandboxed` (how phases run commands), `compile` and `own_programs` (the two phases),
`runtime` (libcudart through ctypes, timing rule) and `native` (the worker's library loader).
"""
from __future__ import annotations

from pathlib import Path

from ...phases.builtin import ConformancePhase
from ..base import Kind
from ..registry import register_kind
from .compile import CompilePhase, compile_phase
from .diagnostics import MAX_ERROR_LINES, filter_diagnostics, first_errors, parse_depfile, relativise
from .machine import arch_for, detect_gpu, gpu_facts, nvcc_path, nvcc_version
from .native import BUILD_DIR, build_library, load_entry_points, load_for_challenge
from .own_programs import NO_DEVICE, OwnProgramsPhase, own_programs_phase, reports_failure
from .runtime import CudaError, TimingRule, median_and_spread
from .sandboxed import local_run, sandbox_runner
from .sources import defines_entry, has_main, looks_like_markdown

OPTION_KEYS = {"symbol": "the C symbol the library exports", "host": "the module of the challenge folder that wraps it"}


@register_kind
class CudaKind(Kind):
    """CUDA kernels behind a C host ABI that the challenge names."""

    name = "cuda"
    phases = (CompilePhase(), OwnProgramsPhase(), ConformancePhase())
    uses_device = True
    caps_worker_memory = False  # the CUDA driver reserves huge virtual ranges
    native_loader = "llmbench.kinds.cuda.native:load_entry_points"
    scaffold_note = " [needs a CUDA GPU]"

    def device(self) -> dict | None:
        """The first GPU's facts (name, driver, memory_mb, compute_cap), or None."""
        return detect_gpu()

    def environment_facts(self) -> dict[str, str]:
        """GPU name, driver and nvcc version: a result measured on another GPU is another result."""
        return dict(gpu_facts())

    def check_options(self, options: dict, challenge_dir: Path) -> str | None:
        """``[cuda]`` names ``symbol`` and ``host`` (a .py file of the challenge) together; without
        the table the challenge's kernels are compiled and their own programs run, but no suite
        can call them."""
        if not options:
            return None
        for key, what in OPTION_KEYS.items():
            if not isinstance(options.get(key), str) or not options[key]:
                return f"[{self.name}] {key}: missing; write {key} = \"...\" ({what})"
        unknown = sorted(set(options) - set(OPTION_KEYS))
        if unknown:
            return f"[{self.name}]: unknown key {', '.join(unknown)}; keys: {', '.join(OPTION_KEYS)}"
        host = Path(options["host"])
        if host.is_absolute() or ".." in host.parts or host.suffix != ".py" or not (challenge_dir / host).is_file():
            return f"[{self.name}] host: {options['host']} is not a .py file in {challenge_dir.name}/"
        return None

    def worker_support_files(self, options: dict) -> list[str]:
        """The host module the worker imports."""
        return [options["host"]] if options.get("host") else []


__all__ = [
    "BUILD_DIR", "MAX_ERROR_LINES", "NO_DEVICE", "CompilePhase", "CudaError", "CudaKind", "OwnProgramsPhase",
    "TimingRule", "arch_for", "build_library", "compile_phase", "defines_entry", "detect_gpu", "filter_diagnostics",
    "first_errors", "gpu_facts", "has_main", "load_entry_points", "load_for_challenge", "local_run",
    "looks_like_markdown", "median_and_spread", "nvcc_path", "nvcc_version", "own_programs_phase", "parse_depfile",
    "relativise", "reports_failure", "sandbox_runner",
]
