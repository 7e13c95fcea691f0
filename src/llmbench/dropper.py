"""Fallback sandbox as root: start Python as root, then become an unprivileged uid.

The interpreter lives in a place the unprivileged uid may not read (e.g. under /root), so
the modules a solution usually needs are imported first, then privileges are dropped for
good, and only then does any solution code run (a worker, pytest, or a script).
Usage: python -m llmbench.dropper --uid N -- (-m module | script.py) [args...]
"""
from __future__ import annotations

import importlib
import os
import runpy
import sys

PRELOAD = (
    "abc argparse array ast base64 bisect collections collections.abc contextlib copy csv ctypes "
    "dataclasses datetime decimal difflib enum fractions functools gc glob hashlib heapq inspect io "
    "itertools json logging math numbers operator os pathlib pickle queue random re shutil signal "
    "statistics string struct subprocess tempfile textwrap threading time timeit traceback tracemalloc "
    "types typing unittest unittest.mock uuid warnings weakref zlib "
    "numpy numpy.linalg numpy.fft numpy.random numpy.testing "
    "pytest _pytest.assertion.rewrite pytest_jsonreport.plugin pytest_timeout "
    "llmbench.worker llmbench.wire llmbench.sandbox "
    "xml.etree.ElementTree xml.dom.minidom email email.parser doctest pdb pprint fnmatch platform sysconfig "
    "importlib.metadata importlib.resources zipfile tomllib locale codecs shlex getpass selectors socket errno "
    "stat secrets cmath code codeop cProfile pstats dis tokenize linecache keyword reprlib concurrent.futures "
    "multiprocessing asyncio encodings.idna encodings.latin_1 encodings.ascii numpy.ma numpy.polynomial "
    "numpy.lib.stride_tricks gzip bz2 lzma hypothesis"
).split()


def preload_pytest_plugins() -> None:
    """pytest imports its built-in and installed plugins lazily: import them while we still can."""
    import pkgutil

    try:
        import _pytest

        for info in pkgutil.walk_packages(_pytest.__path__, "_pytest."):
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001
                pass
        from importlib.metadata import entry_points

        for ep in entry_points(group="pytest11"):
            try:
                ep.load()
            except Exception:  # noqa: BLE001
                pass
    except ImportError:
        pass


def drop(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("llmbench.dropper: could not drop privileges")


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] != "--uid" or argv[2] != "--":
        raise SystemExit("usage: python -m llmbench.dropper --uid N -- (-m module | script) [args]")
    uid, rest = int(argv[1]), argv[3:]
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional modules may be absent
            pass
    preload_pytest_plugins()
    drop(uid)
    # Changing uid clears the parent-death signal: set it again so we die with the harness.
    from llmbench.sandbox import set_parent_death_signal

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
