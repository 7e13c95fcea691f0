"""Bootstrap of every sandboxed Python process: drop privileges, then enter the copy.

The sandbox starts the interpreter as ``python -s -P -m llmbench.dropper`` from a trusted
working directory ("/"): no user site-packages and no working or script folder on
sys.path, so no file of the solution can shadow a module imported here (``ctypes.py``
once ran as root this way). In this order it then

1. (fallback as root, ``--uid N``) reopens every sys.path entry the unprivileged uid could
   not read (e.g. an interpreter under /root, mode 0700) as a directory descriptor named
   /proc/self/fd/N, so that imports keep working after the drop while the rest of that
   tree stays closed, and becomes uid N;
2. imports the target module (pytest, the worker) from trusted paths only;
3. changes into the solution's copy (``--chdir``) and puts it on sys.path the way
   ``python -m``/``python script.py`` would have: only now can solution code run.

Usage:
    python -s -P -m llmbench.dropper [--uid N] --chdir DIR -- (-m module | script.py) [args...]
"""
from __future__ import annotations

import ctypes
import importlib
import os
import runpy
import sys

PR_SET_DUMPABLE = 4
USAGE = "usage: python -s -P -m llmbench.dropper [--uid N] --chdir DIR -- (-m module | script) [args]"


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
    """Reopen every sys.path entry others may not read as /proc/self/fd/N, so imports work after the drop.

    Packages already imported get their ``__path__`` rewritten the same way. The rest of those
    trees stays closed to the unprivileged uid.
    """
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
    """Become `uid` (no supplementary groups), and stay dumpable so /proc/self/fd stays open to us.

    Raises:
        SystemExit: The uid did not change.
    """
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("llmbench.dropper: could not drop privileges")
    # A uid change makes the process non-dumpable, which closes /proc/self/fd to it.
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1)


def parse(argv: list[str]) -> tuple[int | None, str, list[str]]:
    """(uid or None, folder to enter, target argv) from the command line."""
    uid, chdir = None, None
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--uid" and i + 1 < len(argv):
            uid = int(argv[i + 1])
        elif argv[i] == "--chdir" and i + 1 < len(argv):
            chdir = argv[i + 1]
        else:
            raise SystemExit(USAGE)
        i += 2
    rest = argv[i + 1:]
    if chdir is None or not rest or (rest[0] == "-m" and len(rest) < 2):
        raise SystemExit(USAGE)
    return uid, chdir, rest


def main(argv: list[str]) -> None:
    """Bootstrap one sandboxed process: reopen paths and drop privileges (with ``--uid``), import the target
    from trusted paths, then enter the copy and run the target module or script.

    Raises:
        SystemExit: A usage error, or the interpreter was not started with ``-s -P``.
    """
    uid, chdir, rest = parse(argv)
    if sys.flags.safe_path == 0 or sys.flags.no_user_site == 0:
        raise SystemExit("llmbench.dropper must be started with python -s -P (solution files could shadow modules)")
    if uid is not None:
        # Only here: under bubblewrap every worker would pay ~50 ms importing the sandbox package.
        from llmbench.sandbox import set_parent_death_signal

        reopen_sys_path()
        drop(uid)
        # Changing uid clears the parent-death signal: set it again so we die with the harness.
        set_parent_death_signal()
    if rest[0] == "-m":
        importlib.import_module(rest[1])  # from trusted paths only, before the copy is on sys.path
        os.chdir(chdir)
        sys.path.insert(0, os.getcwd())  # what `python -m` does: the working folder first
        sys.argv = [rest[1], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        os.chdir(chdir)
        sys.argv = rest
        sys.path.insert(0, os.path.dirname(os.path.abspath(rest[0])))
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
