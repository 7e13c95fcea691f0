"""The hostile suite's own checks can fail: they see strays and changes when there are some."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from llmbench.sandbox import FALLBACK_UID_BASE, FALLBACK_UID_COUNT
from tests.hostile.helpers import (boot_ticks, diff_states, lease_held, leaked_leases, leftover_processes,
                                   tree_state)


def detached_sleep(**popen) -> int:
    """A `sleep` that is not our child (its shell parent exits at once)."""
    out = subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                         check=True, **popen)
    return int(out.stdout.strip())


def test_leftover_check_sees_strays():
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process under a fallback uid")
    uid = next(u for u in range(FALLBACK_UID_BASE + FALLBACK_UID_COUNT - 1, FALLBACK_UID_BASE, -1) if not lease_held(u))
    ticks = boot_ticks()

    def as_uid():
        os.setgid(uid)
        os.setuid(uid)

    strays = [detached_sleep(preexec_fn=as_uid),
              detached_sleep(env={"PATH": os.environ["PATH"], "HOME": "/tmp/llmbench-run-gone/work"})]
    try:
        found = " ".join(leftover_processes(ticks))
        assert f"pid {strays[0]} uid {uid} (no lease holds this uid)" in found
        assert f"pid {strays[1]} uid 0 (its sandbox copy /tmp/llmbench-run-gone/work is gone)" in found
    finally:
        for pid in strays:
            os.kill(pid, signal.SIGKILL)


def test_tree_state_sees_content_mode_and_links(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "d").mkdir()
    before = tree_state(tmp_path)
    (tmp_path / "a.txt").chmod(0o600)
    (tmp_path / "d" / "new").symlink_to("/etc/passwd")
    after = tree_state(tmp_path)
    assert diff_states(before, after) == ["added d/new", "changed a.txt"]
    (tmp_path / "__pycache__").mkdir()
    assert diff_states(after, tree_state(tmp_path)) == []  # caches are ignored


def test_a_sandbox_that_fails_to_start_gives_back_its_cgroup_and_uid(tmp_path, monkeypatch):
    from llmbench import sandbox

    made = []
    init = sandbox.PidsCgroup.__init__

    def spy(self, max_pids):
        init(self, max_pids)
        made.append(self)

    monkeypatch.setattr(sandbox.PidsCgroup, "__init__", spy)
    with pytest.raises(FileNotFoundError):
        sandbox.Sandbox("fallback").popen(["/nonexistent/program"], workdir=tmp_path, limits=sandbox.Limits(),
                                          python=False)
    assert made and all(c.path is None or not c.path.exists() for c in made)
    assert leaked_leases() == []
