"""Fallback sandbox as root: start Python as root, then become an unprivileged uid.

The interpreter may live where the unprivileged uid cannot look (e.g. under /root, mode
0700). Before dropping privileges, every such entry of sys.path is opened as a directory
descriptor and replaced by its /proc/self/fd/N path, so that imports keep working after
the drop while the rest of that tree stays closed. Only then does solution code run (a
worker, pytest, or a script). Usage:
    python -m llmbench.dropper --uid N -- (-m module | script.py) [args...]
"""
from __future__ import annotations

import ctypes
import os
import runpy
import sys

PR_SET_DUMPABLE = 4


def _closed_to_others(path: str) -> bool:
    p = os.path.abspath(path)
    while p != "/":
        try:
            if not os.stat(p).st_mode & 0o001:
                return True
        except OSError:
            return False
        p = os.path.dirname(p)
    return False


def reopen_sys_path() -> None:
    moved: dict[str, str] = {}
    new = []
    for entry in sys.path:
        if entry and os.path.isdir(entry) and _closed_to_others(entry):
            fd = os.open(entry, os.O_PATH | os.O_DIRECTORY)
            moved[os.path.abspath(entry)] = f"/proc/self/fd/{fd}"
            new.append(moved[os.path.abspath(entry)])
        else:
            new.append(entry)
    sys.path[:] = new
    # Packages imported already (encodings, importlib, ...) find submodules by __path__.
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if not isinstance(paths, list):
            continue
        for i, p in enumerate(paths):
            for old, fdpath in moved.items():
                if p == old or p.startswith(old + os.sep):
                    paths[i] = fdpath + p[len(old):]
    sys.path_importer_cache.clear()


def drop(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("llmbench.dropper: could not drop privileges")
    # A uid change makes the process non-dumpable, which closes /proc/self/fd to it.
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1)


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] != "--uid" or argv[2] != "--":
        raise SystemExit("usage: python -m llmbench.dropper --uid N -- (-m module | script) [args]")
    uid, rest = int(argv[1]), argv[3:]
    from llmbench.sandbox import set_parent_death_signal

    reopen_sys_path()
    drop(uid)
    # Changing uid clears the parent-death signal: set it again so we die with the harness.
    set_parent_death_signal()
    if rest[0] == "-m":
        sys.argv = [rest[1], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        sys.path.insert(0, os.path.dirname(os.path.abspath(rest[0])))
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
