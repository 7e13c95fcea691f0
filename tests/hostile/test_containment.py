"""Hostile solutions, each run through the real pipeline in both isolation modes.

Every case must: finish within its limits, leave a result that says what happened, leave
the repository, $HOME, the other solution's files and result, and the fixture's source
byte-identical, and leave no process, sandbox copy or temp file behind. Where the
fallback is weaker by design, the test asserts the documented weaker behaviour
(docs/methodology-limits.md).
"""
from __future__ import annotations

import json
import os
import re

import pytest

from llmbench.sandbox import PidsCgroup, network_namespace_available
from tests.hostile.conftest import MODES, HostileRun, mode_or_skip
from tests.hostile.helpers import LIMITS, Scratch

SLACK_S = 30  # start-up of two pytest processes and a few workers on a loaded machine


def conformance(hr: HostileRun):
    return hr.result.phases["conformance"]


def own(hr: HostileRun):
    return hr.result.phases["own_tests"]


def assert_contained(hr: HostileRun, limits: dict) -> None:
    """What must hold for every hostile case."""
    assert hr.result is not None, f"no result written (exit {hr.rc}): {hr.stderr[-2000:]}"
    assert hr.rc == 0, hr.stdout[-2000:] + hr.stderr[-2000:]
    assert hr.result.status != "harness_error", hr.result.reason
    assert hr.result.model == hr.scratch.model and hr.result.provenance.isolation.startswith(hr.mode[:5])
    has_own = bool("own_tests" in hr.result.phases and hr.result.phases["own_tests"].tests)
    bound = limits["conformance_timeout_s"] + (limits["own_tests_timeout_s"] if has_own else 0) + SLACK_S
    assert hr.elapsed_s < bound, f"run took {hr.elapsed_s:.0f} s (bound {bound} s)"
    for what, changes in hr.changes.items():
        assert changes == [], f"{what} changed: {changes}"
    assert hr.leftovers == [], hr.leftovers
    assert hr.copies == [], f"sandbox copies left behind: {hr.copies}"
    assert hr.drops == [], f"files left in world-writable temp dirs: {hr.drops}"
    assert len(hr.result_text) < 200_000, "the result file should hold tails of the output, not all of it"
    if not (hr.scratch.case == "network" and hr.mode == "fallback" and not network_namespace_available()):
        assert hr.connections == 0


# ---------------------------------------------------------------------------- expectations
def hangs(hr: HostileRun):
    conf = conformance(hr)
    assert conf.status == "timeout" and {t.outcome for t in conf.tests} == {"timeout"}  # "timed out", issue 11
    assert "timeout after 2 s" in hr.messages() and "worker killed" in hr.messages()
    assert hr.result.traps["wrong_sign"].status == "fell_in"


def sleep_forever(hr: HostileRun):
    # The module hangs at import: the run reads timed out, but no test input ever reached the
    # solution, so its trap is not run (no behavioural evidence, issue 11).
    conf = conformance(hr)
    assert conf.status == "timeout" and "hung while loading" in conf.reason, conf.reason
    assert hr.result.traps["wrong_sign"].status == "not_run"
    assert own(hr).status == "timeout" and own(hr).reason == "own tests timed out after 4 s"


def fork_bomb(hr: HostileRun):
    counts = [int(n) for n in re.findall(r"fork bomb capped after (\d+) forks", hr.messages())]
    assert len(counts) == 2, hr.messages()
    assert max(counts) < 72  # nproc 64 (+ 8 in the pids cgroup): the kernel said no
    assert "Resource temporarily unavailable" in hr.messages()


def memory_balloon(hr: HostileRun):
    assert hr.result.status == "failed" and "solution raised MemoryError" in hr.messages()


def big_file(hr: HostileRun):
    assert hr.result.status == "failed" and "File too large" in hr.messages()


def flood_output(hr: HostileRun):
    assert hr.result.status == "ok", hr.result.reason
    assert own(hr).status == "ok" and own(hr).tests[0].name == "flood_check.py"
    dropped = re.match(r"\[\.\.\. (\d+) earlier bytes of output not kept \.\.\.\]\n", own(hr).log_tail)
    assert dropped and int(dropped.group(1)) > 99_000_000 and len(own(hr).log_tail) < 8100


def network(hr: HostileRun):
    assert hr.result.status == "failed"
    if hr.mode == "bwrap" or network_namespace_available():
        assert "network blocked" in hr.messages() and hr.connections == 0
    else:  # documented: without a network namespace the fallback cannot block the network
        assert "network reachable: connected to 127.0.0.1" in hr.messages() and hr.connections >= 1


def _attempts(text: str, prefix: str) -> dict[str, str]:
    body = text.split(prefix, 1)[1].split(" | ")[0]
    return dict(item.rsplit("=", 1) for item in body.split("; ") if "=" in item)


def write_outside(hr: HostileRun):
    attempts = _attempts(hr.messages(), "write attempts: ")
    assert len(attempts) >= 12, attempts
    written = sorted(k for k, v in attempts.items() if v == "written")
    # Only the temp drops "succeed": bwrap's /tmp and /dev/shm are the sandbox's own; in
    # the fallback they are the machine's (documented), and the harness removes them.
    assert written == sorted(hr.scratch.targets["tmp_drops"])
    assert own(hr).status == "ok"


def delete_files(hr: HostileRun):
    attempts = _attempts(hr.messages(), "delete attempts: ")
    assert len(attempts) >= 12 and "deleted" not in attempts.values(), attempts


def symlink_out(hr: HostileRun):
    s = hr.scratch
    assert f"home-token-{s.nonce}" not in hr.result_text
    assert "write victim='PermissionError'" in hr.messages() or "write victim='FileNotFoundError'" in hr.messages()
    if hr.mode == "bwrap":
        assert f"world-readable-notes-{s.nonce}" not in hr.result_text
    else:  # documented: the leased uid reads what every user may read
        assert f"world-readable-notes-{s.nonce}" in hr.result_text
    files = {f.path: f for f in hr.result.files}
    assert files["victim"].bytes == 0 and files["loop"].binary  # links are listed, never followed


def chmod_folder(hr: HostileRun):
    assert conformance(hr).status == "ok" and hr.result.status == "ok"
    assert own(hr).status == "not_run" and own(hr).tests[0].message == "pytest wrote no report (exit status 1)"


def suite_timeout(hr: HostileRun):
    conf = conformance(hr)
    assert hr.result.status == "timeout" and conf.reason == "conformance timed out after 4 s"
    assert hr.result.traps["wrong_sign"].status == "not_run"


def exit_import(hr: HostileRun):
    # Cannot be loaded: not runnable (its fault), but no trap evidence (issue 11).
    assert hr.result.status == "not_runnable" and "called sys.exit(3) at import" in hr.messages()
    assert hr.result.traps["wrong_sign"].status == "not_run"


def os_exit_import(hr: HostileRun):
    assert hr.result.status == "not_runnable" and "worker died during add: exited (status 0)" in hr.messages()
    assert [t.message for t in own(hr).tests] == ["pytest wrote no report"]  # exit status 0, mid-collection


def raise_import(hr: HostileRun):
    assert "ValueError: hostile: refusing to be imported" in hr.messages()


def survives(hr: HostileRun):
    assert hr.result.status == "ok", hr.result.reason
    assert hr.result.traps["wrong_sign"].status == "avoided"
    assert own(hr).status == "ok"


def kill_group(hr: HostileRun):
    assert hr.result.status == "failed" and "worker died during add: killed" in hr.messages()
    assert own(hr).tests[0].message.startswith("pytest wrote no report (killed (SIGKILL)")


def forge_conftest(hr: HostileRun):
    # Own tests are self-reported: the conftest made them "pass". Conformance is not fooled.
    assert own(hr).status == "ok" and own(hr).counts["passed"] == 2
    assert hr.result.traps["wrong_sign"].status == "fell_in" and hr.result.status == "failed"


def forge_records(hr: HostileRun):
    assert hr.result.traps["wrong_sign"].status == "fell_in" and hr.result.status == "failed"
    assert "test_sign" in hr.result.reason and "forged" not in hr.result_text


def forge_protocol(hr: HostileRun):
    assert hr.result.status == "failed" and conformance(hr).counts.get("passed", 0) == 0
    assert "malformed" in hr.messages() or "protocol" in hr.messages()


def liar_objects(hr: HostileRun):
    assert hr.result.status == "failed" and hr.result.traps["wrong_sign"].status == "fell_in"
    assert {t.outcome for t in conformance(hr).tests} == {"failed"}


def read_secrets(hr: HostileRun):
    s = hr.scratch
    assert f"env-token-{s.nonce}" not in hr.result_text and f"home-token-{s.nonce}" not in hr.result_text
    assert "env=absent" in hr.messages() and "proc_environ=none" in hr.messages()
    if hr.mode == "bwrap":
        assert f"world-readable-notes-{s.nonce}" not in hr.result_text
    else:  # documented: world-readable files are readable in the fallback
        assert f"world-readable-notes-{s.nonce}" in hr.result_text


def add_links(s: Scratch) -> None:
    links = {"home_token": s.targets["token_file"], "home_notes": s.targets["notes_file"],
             "victim": str(s.project.solutions_dir / "victim" / "demo"), "loop": "loop"}
    # Links to /dev/zero and FIFOs: test_bad_input.py (guarded, a regression must not eat the machine).
    for name, target in links.items():
        os.symlink(target, s.solution / name)


def pids_cgroup_available() -> bool:
    cg = PidsCgroup(1)
    cg.kill_all()  # removes the probe cgroup again
    return cg.path is not None


def add_root_marker(s: Scratch) -> None:
    """A file only root may create: the shadowing modules of shadow_modules append to it."""
    vault = s.root / "root-only"
    vault.mkdir(mode=0o700)
    targets = json.loads((s.solution / "_hostile.json").read_text())
    targets["root_marker"] = s.targets["root_marker"] = str(vault / "ran-as-root")
    (s.solution / "_hostile.json").write_text(json.dumps(targets, indent=1))


def shadow_modules(hr: HostileRun):
    """Issue 13: a `ctypes.py` in the solution once ran as root before the fallback's drop."""
    marker = hr.scratch.targets["root_marker"]
    assert not os.path.exists(marker), "solution code ran as root: " + open(marker).read()
    assert hr.result.status == "ok", hr.result.reason
    assert own(hr).status == "ok" and own(hr).counts["passed"] == 1
    assert conformance(hr).status == "ok" and hr.result.traps["wrong_sign"].status == "avoided"


# case -> (expectation, limits overriding helpers.LIMITS, prepare(scratch) or None)
CASES = {
    "infinite_loop": (hangs, {}, None),
    "sleep_forever": (sleep_forever, {"own_tests_timeout_s": 4}, None),
    "busy_threads": (hangs, {}, None),
    "fork_bomb": (fork_bomb, {"call_timeout_s": 10}, None),
    "memory_balloon": (memory_balloon, {"call_timeout_s": 20}, None),
    "big_file": (big_file, {"call_timeout_s": 20}, None),
    "flood_output": (flood_output, {"call_timeout_s": 20}, None),
    "network": (network, {}, None),
    "write_outside": (write_outside, {}, None),
    "delete_files": (delete_files, {}, None),
    "symlink_out": (symlink_out, {}, add_links),
    "chmod_folder": (chmod_folder, {}, None),
    "suite_timeout": (suite_timeout, {"call_timeout_s": 4, "conformance_timeout_s": 4}, None),
    "exit_import": (exit_import, {}, None),
    "os_exit_import": (os_exit_import, {}, None),
    "raise_import": (raise_import, {}, None),
    "kill_parent": (survives, {}, None),
    "kill_group": (kill_group, {}, None),
    "daemon": (survives, {}, None),
    "forge_conftest": (forge_conftest, {}, None),
    "forge_records": (forge_records, {}, None),
    "forge_protocol": (forge_protocol, {}, None),
    "liar_objects": (liar_objects, {}, None),
    "read_secrets": (read_secrets, {}, None),
    "shadow_modules": (shadow_modules, {}, add_root_marker),
}
SLOW = {"infinite_loop", "sleep_forever", "busy_threads", "fork_bomb", "big_file", "flood_output"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES])
def test_hostile_solution_is_contained(case, mode, run_hostile):
    mode_or_skip(mode)
    if case == "fork_bomb" and mode == "bwrap" and not pids_cgroup_available():
        pytest.skip("no writable pids cgroup: RLIMIT_NPROC does not bind uid 0 outside bwrap's user namespace, "
                    "so only a pids cgroup caps a fork bomb there (docs/methodology-limits.md)")
    expect, limits, prepare = CASES[case]
    hr = run_hostile(case, mode, limits, prepare)
    assert_contained(hr, {**LIMITS, **limits})
    expect(hr)
