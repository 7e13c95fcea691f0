"""Scratch projects, tree hashes and leftover checks for the hostile suite.

A scratch project lives in a fresh world-traversable folder under the temp dir (like a
checkout at /home/you/llmbench: mode 0755 folders, 0644 files), not under pytest's
0700 tmp_path, so that the fallback's unprivileged uid could reach it if file
permissions did not stop it: containment must come from the sandbox, not from where
the test happened to put the files.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import stat
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from llmbench.project import Project
from llmbench.sandbox import FALLBACK_UID_BASE, FALLBACK_UID_COUNT
from llmbench.schema import Provenance, Result
from llmbench.store import ResultStore
from tests.conftest import DEMO_REFERENCE, DEMO_TESTS, demo_toml, write

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "hostile"
TOKEN_ENV = "LLMBENCH_HOSTILE_TOKEN"
IGNORED = {"__pycache__", ".pytest_cache"}
# Small limits keep the suite quick: a hang costs call_timeout_s per conformance test.
LIMITS = {"call_timeout_s": 2, "memory_mb": 512, "own_tests_timeout_s": 30, "conformance_timeout_s": 40}


def make_project(root: Path, limits: dict | None = None) -> Project:
    """The demo challenge (reference, conformance suite) with the given [limits]."""
    merged = {**LIMITS, **(limits or {})}
    c = root / "challenges" / "demo"
    write(c / "challenge.toml", demo_toml(merged))
    write(c / "PROMPT.md", "# Demo\nWrite add(a, b).\n")
    write(c / "reference" / "demo.py", DEMO_REFERENCE)
    write(c / "conformance" / "test_demo.py", DEMO_TESTS)
    (root / "solutions").mkdir(exist_ok=True)
    (root / "adapters").mkdir(exist_ok=True)
    write(root / "README.md", "# scratch copy of an llmbench repository\n")
    write(root / "pyproject.toml", "[project]\nname = 'scratch'\n")
    return Project(root)


def fake_result(model: str) -> Result:
    prov = Provenance(llmbench_version="0", harness_version="0", suite_version="1", commit="scratch",
                      date="2026-01-01T00:00:00+00:00", python="3.11", numpy="2")
    return Result(model=model, challenge="demo", status="ok", provenance=prov, key="0" * 64)


@dataclass
class Scratch:
    """A scratch repository + $HOME with one hostile solution in it (model h-<case>)."""

    case: str
    root: Path
    project: Project
    home: Path
    nonce: str
    model: str
    solution: Path
    targets: dict = field(default_factory=dict)

    @property
    def fixture_source(self) -> Path:
        return FIXTURES / self.case

    @property
    def result_path(self) -> Path:
        return ResultStore(self.project.results_dir).path_for(self.model, "demo")

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        for path in self.targets.get("tmp_drops", []):
            remove_any(Path(path))


def remove_any(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def make_scratch(case: str, limits: dict | None = None, port: int = 0) -> Scratch:
    root = Path(tempfile.mkdtemp(prefix="llmbench-hostile-"))
    os.chmod(root, 0o755)
    project = make_project(root / "repo", limits)
    home = root / "home"
    home.mkdir()
    nonce = secrets.token_hex(8)
    token_file = write(home / ".token", f"home-token-{nonce}\n")
    os.chmod(token_file, 0o600)
    notes_file = write(home / "notes.txt", f"world-readable-notes-{nonce}\n")
    write(home / ".bashrc", "export PS1='$ '\n")
    # Another model's solution and its result: must survive every hostile run untouched.
    victim = write(project.solutions_dir / "victim" / "demo" / "demo.py", DEMO_REFERENCE).parent
    ResultStore(project.results_dir).write(fake_result("victim"))
    model = "h-" + case.replace("_", "-")
    solution = project.solutions_dir / model / "demo"
    shutil.copytree(FIXTURES / case, solution, symlinks=True)
    results = project.results_dir
    own_result = ResultStore(results).path_for(model, "demo")
    protected = [project.root / "README.md", project.challenges_dir / "demo" / "conformance" / "test_demo.py",
                 results / "victim" / "demo.json", victim / "demo.py", solution / "demo.py", home / ".bashrc",
                 FIXTURES / case / "demo.py"]
    targets = {
        "nonce": nonce,
        "port": port,
        "token_env": TOKEN_ENV,
        "token_file": str(token_file),
        "notes_file": str(notes_file),
        "own_result": str(own_result),
        "write_targets": [str(p) for p in protected] + [str(project.root), str(results), str(home),
                                                         str(project.root / ".llmbench")],
        "delete_targets": [str(p) for p in protected] + [str(victim), str(results / "victim"), str(solution),
                                                         str(home), str(project.challenges_dir)],
        "chmod_targets": [str(p) for p in (project.root, results, victim, solution, solution / "demo.py", home,
                                           FIXTURES / case)],
        # World-writable places outside the sandbox's copy: written in fallback mode, but
        # the harness removes every file of the leased uid there when the run ends.
        "tmp_drops": [f"{tempfile.gettempdir()}/llmbench-hostile-drop-{nonce}", f"/dev/shm/llmbench-hostile-drop-{nonce}"],
    }
    (solution / "_hostile.json").write_text(json.dumps(targets, indent=1))
    return Scratch(case, root, project, home, nonce, model, solution, targets)


# ------------------------------------------------------------------------------ hashing
def tree_state(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """relative path -> mode and content hash (links by target), never following links."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED
                             and os.path.normpath(os.path.join(rel_dir, d)) not in skip)
        for name in dirnames + sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "link " + os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                out[rel + "/"] = f"dir {st.st_mode:o} {st.st_uid}"
            else:
                h = hashlib.sha256()
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                out[rel] = f"file {st.st_mode:o} {st.st_uid} {h.hexdigest()}"
    return out


def diff_states(before: dict, after: dict) -> list[str]:
    changed = [f"changed {k}" for k in before if k in after and before[k] != after[k]]
    changed += [f"removed {k}" for k in before if k not in after]
    changed += [f"added {k}" for k in after if k not in before]
    return sorted(changed)


def snapshot(s: Scratch) -> dict[str, dict]:
    """Everything a hostile run must leave byte-identical (its own result and the lock excepted)."""
    return {
        "repository": tree_state(s.project.root, skip=(f"results/{s.model}", ".llmbench")),
        "home": tree_state(s.home),
        "fixture source": tree_state(s.fixture_source),
    }


# ------------------------------------------------------------------------------ leftovers
def boot_ticks() -> int:
    with open("/proc/uptime") as fh:
        return int(float(fh.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def _proc_stat(pid: str) -> tuple[str, int, int]:
    """(state, ppid, start time in ticks) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        rest = fh.read().rsplit(")", 1)[1].split()
    return rest[0], int(rest[1]), int(rest[19])


def lease_held(uid: int) -> bool:
    """Whether some run holds the fallback lease of uid (its lock file is locked)."""
    path = Path(tempfile.gettempdir()) / "llmbench-uids" / str(uid)
    if not path.exists():
        return False
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def leftover_processes(since_ticks: int) -> list[str]:
    """Live processes started since `since_ticks` that some llmbench sandbox left behind.

    A process of a fallback uid whose lease nobody holds is a leftover; so is any process
    whose $HOME is a sandbox copy that no longer exists (bwrap processes run as root
    outside their namespace, so their uid says nothing). Also our own live children.
    """
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            state, ppid, start = _proc_stat(entry)
            if state in ("Z", "X"):
                continue
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")[:200]
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            found.append(f"pid {entry} (our child): {cmd}")
            continue
        if start < since_ticks:
            continue
        if FALLBACK_UID_BASE <= uid < FALLBACK_UID_BASE + FALLBACK_UID_COUNT and not lease_held(uid):
            found.append(f"pid {entry} uid {uid} (no lease holds this uid): {cmd}")
            continue
        home = next((v[5:].decode(errors="replace") for v in env if v.startswith(b"HOME=")), "")
        if "llmbench-run-" in home and not os.path.exists(home):
            found.append(f"pid {entry} uid {uid} (its sandbox copy {home} is gone): {cmd}")
    return found


def leaked_leases() -> list[str]:
    """Fallback uid leases this process still holds: after a run there must be none (a
    held lease would also hide that uid's processes from leftover_processes)."""
    lock_dir = str(Path(tempfile.gettempdir()) / "llmbench-uids") + "/"
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(lock_dir):
            out.append(f"lease of uid {target[len(lock_dir):]} still held by the harness (fd {fd})")
    return out


def wait_for_no_leftovers(since_ticks: int, grace_s: float = 3.0) -> list[str]:
    """SIGKILL is asynchronous: give dying processes a moment before calling them leftovers."""
    deadline = time.monotonic() + grace_s
    while True:
        found = leaked_leases() + leftover_processes(since_ticks)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def leftover_copies(nonce: str) -> list[str]:
    """Sandbox copies of this scratch's solution still on disk (found by its nonce)."""
    out = []
    # Listed by hand: glob() fails when another run's copy vanishes while it scans.
    for base in Path(tempfile.gettempdir()).glob("llmbench-*"):
        try:
            subs = list(base.iterdir())
        except OSError:
            continue
        for sub in subs:
            try:
                if nonce in (sub / "_hostile.json").read_text():
                    out.append(str(sub))
            except OSError:
                continue
    return out


# ------------------------------------------------------------------------------ network
class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
