"""Containment basics in both isolation modes (the hostile suite goes further)."""
import os
import socket
import sys

import pytest

from llmbench.sandbox import Limits, Sandbox, make_copy, remove_copy
from tests.conftest import bwrap_or_skip, write

PROBE = r"""
import os, socket, subprocess, sys
report = {"uid": os.getuid(), "secret": os.environ.get("LLMBENCH_TEST_SECRET")}
for target in sys.argv[1:]:
    try:
        with open(target, "w") as fh:
            fh.write("pwned")
        report[target] = "written"
    except OSError as exc:
        report[target] = type(exc).__name__
try:
    s = socket.create_connection(("127.0.0.1", int(os.environ.get("PROBE_PORT", "1"))), timeout=2)
    report["net"] = "connected"
except OSError:
    report["net"] = "blocked"
with open("inside.txt", "w") as fh:
    fh.write("ok")
print(report)
"""


@pytest.fixture
def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    yield srv.getsockname()[1]
    srv.close()


def run_probe(tmp_path, mode, listener, monkeypatch, targets):
    monkeypatch.setenv("LLMBENCH_TEST_SECRET", "hunter2")
    src = write(tmp_path / "sol" / "probe.py", PROBE).parent
    copy = make_copy(src)
    try:
        out = Sandbox(mode).run([sys.executable, "probe.py", *targets], workdir=copy,
                                limits=Limits(wall_s=30), env={"PROBE_PORT": str(listener)})
        assert out.returncode == 0, out.stderr
        assert (copy / "inside.txt").read_text() == "ok"
        return eval(out.stdout.strip().splitlines()[-1])  # our own probe's dict literal
    finally:
        remove_copy(copy)


def test_bwrap_contains_writes_network_and_secrets(tmp_path, listener, monkeypatch):
    bwrap_or_skip()
    outside = tmp_path / "outside.txt"
    report = run_probe(tmp_path, "bwrap", listener, monkeypatch, [str(outside), "/usr/pwned", "/etc/pwned"])
    assert report["uid"] == 65534 and report["secret"] is None and report["net"] == "blocked"
    assert report[str(outside)] in ("FileNotFoundError", "PermissionError", "OSError")
    assert not outside.exists()
    assert report["/usr/pwned"] in ("OSError", "PermissionError")


def test_bwrap_as_root_cannot_remount(tmp_path):
    bwrap_or_skip()
    if os.geteuid() != 0:
        pytest.skip("the remount attack matters when llmbench runs as root")
    script = write(tmp_path / "sol" / "remount.py", (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "MS_REMOUNT, MS_BIND = 32, 4096\n"
        "rc = libc.mount(b'none', b'/usr', None, MS_REMOUNT | MS_BIND, None)\n"
        "rc2 = libc.mount(b'none', b'/', None, MS_REMOUNT, None)\n"
        "print(rc, rc2, ctypes.get_errno())\n"
        "open('/usr/pwned', 'w')\n"))
    copy = make_copy(script.parent)
    try:
        out = Sandbox("bwrap").run([sys.executable, "remount.py"], workdir=copy, limits=Limits(wall_s=30))
    finally:
        remove_copy(copy)
    assert out.stdout.split()[:2] == ["-1", "-1"]
    assert out.returncode != 0 and ("Read-only file system" in out.stderr or "Permission denied" in out.stderr)
    assert not os.path.exists("/usr/pwned")


def test_fallback_as_root_runs_under_an_unprivileged_uid(tmp_path, listener, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("the uid drop applies when llmbench runs as root")
    protected = tmp_path / "protected"
    protected.mkdir(mode=0o700)
    report = run_probe(tmp_path, "fallback", listener, monkeypatch, [str(protected / "x"), "/usr/pwned"])
    assert 61000 <= report["uid"] < 63000 and report["secret"] is None
    assert report[str(protected / "x")] == "PermissionError" and report["/usr/pwned"] == "PermissionError"
    # As root the fallback also gets an empty network namespace (where the kernel allows it).
    from llmbench.sandbox import network_namespace_available

    assert report["net"] == ("blocked" if network_namespace_available() else "connected")


@pytest.mark.parametrize("mode", ["auto", "fallback"])
def test_timeout_kills_the_process_tree_and_output_is_capped(tmp_path, mode):
    script = write(tmp_path / "sol" / "noisy.py", (
        "import subprocess, sys, time\n"
        "subprocess.Popen(['sleep', '300'])\n"
        "sys.stdout.write('x' * 300000)\nsys.stdout.flush()\ntime.sleep(300)\n"))
    copy = make_copy(script.parent)
    try:
        out = Sandbox(mode).run([sys.executable, "noisy.py"], workdir=copy, limits=Limits(wall_s=3))
    finally:
        remove_copy(copy)
    assert out.timed_out and out.reason == "timeout after 3 s" and out.duration_s < 20
    assert out.truncated_bytes >= 300000 - 64 * 1024 and len(out.stdout) < 70 * 1024
