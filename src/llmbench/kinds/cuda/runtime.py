"""Worker side of the cuda kind: the few libcudart calls the harness needs (through ctypes), and
the timing rule for speed metrics. Runs inside the sandboxed worker, never in the harness."""
from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .machine import DEFAULT_ARCH, toolkit_root

H2D, D2H, D2D = 1, 2, 3
ATTR_CC_MAJOR, ATTR_CC_MINOR = 75, 76


ATTR_L2_CACHE_SIZE = 89  # cudaDevAttrL2CacheSize
PLAUSIBLE_OVER_COPY = 1.05  # kernel read bandwidth / copy throughput above which a figure is implausible


@dataclass(frozen=True)
class TimingRule:
    """When to stop timing: at least min_repeats calls, then stop when the spread (interquartile
    range / median) is below max_spread, or the time budget is spent, or max_repeats is reached."""

    min_repeats: int = 20
    max_repeats: int = 200
    max_spread: float = 0.05
    budget_s: float = 30.0

    def done(self, samples: list[float], elapsed_s: float) -> bool:
        """Whether to stop timing, given the samples so far and the time spent.

        Below `min_repeats`, only a slow kernel (three samples past four budgets) stops early.
        """
        n = len(samples)
        if n < self.min_repeats:
            return n >= self.max_repeats or (n >= 3 and elapsed_s >= 4 * self.budget_s)
        if n >= self.max_repeats or elapsed_s >= self.budget_s:
            return True
        return median_and_spread(samples)[1] <= self.max_spread


def median_and_spread(samples: list[float]) -> tuple[float, float]:
    """(median, interquartile range / median) of timing samples."""
    import numpy as np

    if not samples:
        return float("nan"), float("nan")
    q1, med, q3 = np.percentile(np.asarray(samples, dtype=float), [25, 50, 75])
    return float(med), float((q3 - q1) / med) if med > 0 else float("inf")


class CudaError(RuntimeError):
    """A CUDA runtime call failed, or libcudart could not be loaded."""
    pass


class CudaRuntime:
    """The few libcudart calls the harness needs, through ctypes."""

    def __init__(self):
        self.lib = load_cudart()
        c = ctypes
        L = self.lib
        L.cudaGetErrorString.restype = c.c_char_p
        L.cudaGetErrorString.argtypes = [c.c_int]
        L.cudaMalloc.argtypes = [c.POINTER(c.c_void_p), c.c_size_t]
        L.cudaFree.argtypes = [c.c_void_p]
        L.cudaMemcpy.argtypes = [c.c_void_p, c.c_void_p, c.c_size_t, c.c_int]
        L.cudaMemset.argtypes = [c.c_void_p, c.c_int, c.c_size_t]
        L.cudaEventCreate.argtypes = [c.POINTER(c.c_void_p)]
        L.cudaEventRecord.argtypes = [c.c_void_p, c.c_void_p]
        L.cudaEventSynchronize.argtypes = [c.c_void_p]
        L.cudaEventElapsedTime.argtypes = [c.POINTER(c.c_float), c.c_void_p, c.c_void_p]
        L.cudaEventDestroy.argtypes = [c.c_void_p]
        L.cudaDeviceGetAttribute.argtypes = [c.POINTER(c.c_int), c.c_int, c.c_int]
        L.cudaMemGetInfo.argtypes = [c.POINTER(c.c_size_t), c.POINTER(c.c_size_t)]
        for fn in ("cudaMalloc", "cudaFree", "cudaMemcpy", "cudaMemset", "cudaEventCreate", "cudaEventRecord",
                   "cudaEventSynchronize", "cudaEventElapsedTime", "cudaEventDestroy", "cudaDeviceSynchronize",
                   "cudaGetLastError", "cudaDeviceGetAttribute", "cudaMemGetInfo"):
            getattr(L, fn).restype = c.c_int

    def error_string(self, code: int) -> str:
        """CUDA's message for an error code."""
        s = self.lib.cudaGetErrorString(int(code))
        return s.decode(errors="replace") if s else f"CUDA error {code}"

    def check(self, code: int, what: str) -> None:
        """Raise `CudaError` naming the call when `code` is not success."""
        if code != 0:
            raise CudaError(f"{what} failed: {self.error_string(code)} (code {code})")

    def malloc(self, nbytes: int) -> int:
        """Allocate device memory (at least one byte) and return its address."""
        ptr = ctypes.c_void_p()
        self.check(self.lib.cudaMalloc(ctypes.byref(ptr), max(int(nbytes), 1)), f"cudaMalloc({nbytes})")
        return ptr.value

    def free(self, ptr: int | None) -> None:
        """Free device memory; None or 0 is ignored."""
        if ptr:
            self.lib.cudaFree(ctypes.c_void_p(ptr))

    def free_bytes(self) -> int:
        """Free device memory, in bytes."""
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self.check(self.lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)), "cudaMemGetInfo")
        return int(free.value)

    def reserve_all_but(self, headroom: int) -> list[int]:
        """Allocate the device's free memory except `headroom` bytes (in pieces, so that
        fragmentation cannot stop it); free the returned pointers to give it back."""
        held, piece = [], 1 << 30
        try:
            while piece >= 2 << 20:
                want = min(piece, self.free_bytes() - int(headroom))
                if want < 2 << 20:
                    break
                ptr = ctypes.c_void_p()
                if self.lib.cudaMalloc(ctypes.byref(ptr), want) == 0:
                    held.append(ptr.value)
                else:
                    self.lib.cudaGetLastError()  # clear the failed allocation's error; try smaller pieces
                    piece //= 2
        except BaseException:
            for p in held:
                self.free(p)
            raise
        return held

    def to_device(self, dst: int, array) -> None:
        """Copy a contiguous NumPy array to device memory at `dst`."""
        self.check(self.lib.cudaMemcpy(dst, array.ctypes.data, array.nbytes, H2D), "cudaMemcpy host->device")

    def to_host(self, array, src: int) -> None:
        """Copy device memory at `src` into a contiguous NumPy array."""
        self.check(self.lib.cudaMemcpy(array.ctypes.data, src, array.nbytes, D2H), "cudaMemcpy device->host")

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        """Copy `nbytes` between device addresses."""
        self.check(self.lib.cudaMemcpy(dst, src, nbytes, D2D), "cudaMemcpy device->device")

    def synchronize(self, what: str) -> None:
        """Wait for the device; a failure there ends the worker when the context is lost (`fatal_if_sticky`)."""
        code = self.lib.cudaDeviceSynchronize()
        if code != 0:
            fatal_if_sticky(self, code, what)

    def arch(self) -> str:
        """The device's ``sm_XY`` architecture, or `DEFAULT_ARCH` when it cannot be queried."""
        major, minor = ctypes.c_int(), ctypes.c_int()
        if (self.lib.cudaDeviceGetAttribute(ctypes.byref(major), ATTR_CC_MAJOR, 0) != 0
                or self.lib.cudaDeviceGetAttribute(ctypes.byref(minor), ATTR_CC_MINOR, 0) != 0):
            return DEFAULT_ARCH
        return f"sm_{major.value}{minor.value}"

    def l2_bytes(self) -> int:
        """The device's L2 cache size (the flush between timed calls is sized from it)."""
        size = ctypes.c_int()
        if self.lib.cudaDeviceGetAttribute(ctypes.byref(size), ATTR_L2_CACHE_SIZE, 0) != 0 or size.value <= 0:
            return 128 << 20  # larger than any current L2
        return int(size.value)

    def event(self) -> int:
        """Create a CUDA event (for timing) and return its handle."""
        ev = ctypes.c_void_p()
        self.check(self.lib.cudaEventCreate(ctypes.byref(ev)), "cudaEventCreate")
        return ev.value

    def elapsed_ms(self, start: int, stop: int) -> float:
        """Milliseconds between two recorded events, once the second has completed."""
        self.check(self.lib.cudaEventSynchronize(ctypes.c_void_p(stop)), "cudaEventSynchronize")
        ms = ctypes.c_float()
        self.check(self.lib.cudaEventElapsedTime(ctypes.byref(ms), ctypes.c_void_p(start), ctypes.c_void_p(stop)),
                   "cudaEventElapsedTime")
        return float(ms.value)

    def record(self, ev: int) -> None:
        """Record an event on the default stream."""
        self.check(self.lib.cudaEventRecord(ctypes.c_void_p(ev), None), "cudaEventRecord")


def fatal_if_sticky(rt: CudaRuntime, code: int, what: str) -> None:
    """A kernel fault leaves the CUDA context unusable: end the worker so that the harness
    starts a fresh one for the next test (the message goes to stderr, the crash reason)."""
    text = f"{what}: {rt.error_string(code)} (code {code})"
    rt.lib.cudaGetLastError()
    if rt.lib.cudaDeviceSynchronize() != 0 and not os.environ.get("LLMBENCH_CUDA_KEEP_PROCESS"):
        sys.stderr.write(f"llmbench: CUDA context lost after {text}; the worker exits\n")
        sys.stderr.flush()
        os._exit(70)
    raise CudaError(text)


def load_cudart() -> ctypes.CDLL:
    """Load libcudart: from the toolkit, then wherever the loader finds it.

    Raises:
        CudaError: No candidate loads.
    """
    candidates = []
    root = toolkit_root()
    if root is not None:
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
            candidates += sorted(Path(root, sub).glob("libcudart.so*"))
    import ctypes.util

    found = ctypes.util.find_library("cudart")
    candidates += [Path(found)] if found else []
    candidates += [Path("libcudart.so"), Path("libcudart.so.13"), Path("libcudart.so.12")]
    errors = []
    for path in candidates:
        try:
            return ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    raise CudaError("libcudart not found: " + "; ".join(errors[-3:]))
