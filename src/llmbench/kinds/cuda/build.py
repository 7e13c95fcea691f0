"""One nvcc invocation in the sandbox, on a throwaway work copy whose build folder is out of the
solution's reach; its outcome made safe to record."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ...sandbox import make_copy, remove_copy
from .diagnostics import WITHHELD, allowed_dep, filter_diagnostics, first_errors, parse_depfile, relativise
from .machine import nvcc_path


@dataclass
class Build:
    """One nvcc invocation's outcome, already made safe to record.

    Attributes:
        outcome: ``passed``, ``failed`` or ``timeout``.
        message: The first errors, or why it failed.
        duration_s: Wall time.
        deps: Files the build read (from its dependency file).
        output: The compiler's output, paths made relative (withheld when the build read outside files).
    """

    outcome: str  # passed | failed | timeout
    message: str
    duration_s: float
    deps: list[str]
    output: str


def nvcc_build(run, copy: Path, argv_tail: list[str], dep_name: str, timeout_s: float,
                toolkit: Path | None) -> Build:
    """Run nvcc in the sandbox on a work copy and judge the build.

    The build writes a dependency file; a build that read files outside the solution (other than
    system and toolkit headers) fails, and its output is withheld.

    Args:
        run: The sandbox's run function.
        copy: The work copy of the solution.
        argv_tail: nvcc's arguments after the dependency-file options.
        dep_name: Name of the dependency file in the build folder.
        timeout_s: Time limit of the compile.
        toolkit: The CUDA toolkit's root, whose headers a build may read.

    Returns:
        The outcome (``passed``, ``failed`` or ``timeout``) with the first errors and the cleaned output.
    """
    nvcc = nvcc_path() or "nvcc"
    build = build_dir(copy)
    dep_file = build / dep_name
    dep_file.unlink(missing_ok=True)  # never follows: build/ itself cannot be swapped (its parent is ours)
    res = run([nvcc, "-MD", "-MF", str(dep_file), *argv_tail], workdir=copy, timeout_s=timeout_s, rw=[build])
    deps = parse_depfile(read_regular(dep_file))
    outside = sorted({d for d in deps if not allowed_dep(d if os.path.isabs(d) else str(copy / d), copy, toolkit)})
    raw = (res.stdout or "") + ("\n" if res.stdout and res.stderr else "") + (res.stderr or "")
    if outside:
        shown = ", ".join(relativise(d, copy) for d in outside[:5])
        return Build("failed", f"includes files outside the solution: {shown} ({WITHHELD})", res.duration_s,
                     deps, WITHHELD)
    output = relativise(relativise(filter_diagnostics(raw, copy, toolkit), copy), copy.parent)
    if res.timed_out:
        return Build("timeout", f"nvcc timed out ({res.reason})", res.duration_s, deps, output)
    if res.returncode == 0:
        return Build("passed", "", res.duration_s, deps, output)
    message = first_errors(output) or (res.reason or f"nvcc exit code {res.returncode}")
    return Build("failed", message, res.duration_s, deps, output)


def work_copy(folder: Path) -> Path:
    """A throwaway copy of the solution, and next to it (in the copy's root-owned parent, out
    of the solution's reach) the build folder: a program of the solution could replace a
    build folder inside its copy with a link before the trusted side reads or deletes there."""
    copy = make_copy(folder)
    build_dir(copy).mkdir(mode=0o755)
    return copy


def build_dir(copy: Path) -> Path:
    """Where nvcc writes objects, programs and dependency files for a work copy."""
    return copy.parent / "build"


def read_regular(path: Path, limit: int = 4 << 20) -> str:
    """A file the sandbox wrote, read by the trusted side: never through a link, never a
    FIFO or device, at most `limit` bytes; "" otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def drop_copy(copy: Path) -> None:
    """Remove a work copy made for a build."""
    remove_copy(copy)
