"""Bubblewrap: whether it works here, and what a sandbox binds (system, Python, llmbench, devices)."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import llmbench

SANDBOX_UID = 65534  # "nobody" inside the bwrap user namespace
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives",
    "nsswitch.conf", "mime.types", "matplotlibrc", "fonts",
)
NO_BWRAP_ENV = "LLMBENCH_NO_BWRAP"


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bubblewrap works here; otherwise why not.

    LLMBENCH_NO_BWRAP=1 makes llmbench behave as on a machine without bubblewrap (CI's
    second pass tests the fallback that way)."""
    if os.environ.get(NO_BWRAP_ENV, "") not in ("", "0"):
        return f"bubblewrap disabled ({NO_BWRAP_ENV} is set)"
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(
            [exe, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
             "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr", *root_links(), "--proc", "/proc",
             "--dev", "/dev", "true"],
            capture_output=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if probe.returncode != 0:
        return "bwrap cannot create a sandbox here: " + probe.stderr.decode(errors="replace").strip()[:200]
    return None


def root_links() -> list[str]:
    """Reproduce /bin, /lib, ... as on the host (symlinks on merged-/usr systems)."""
    args = []
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    return args


def python_paths() -> list[Path]:
    """What the interpreter needs: its installation, the virtualenv, and llmbench itself."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(llmbench.__file__).resolve().parent}
    exe = Path(sys.executable)
    paths.add(exe.resolve().parent)
    return sorted(paths)


def gpu_devices() -> list[str]:
    """The GPU device files bound into a sandbox that uses the GPU."""
    return sorted(str(p) for p in Path("/dev").glob("nvidia*"))
