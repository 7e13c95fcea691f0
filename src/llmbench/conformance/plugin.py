"""pytest plugin for conformance suites: fixtures, the trap marker, trusted per-test records.

Used as ``pytest challenges/<id>/conformance -p llmbench.conformance.plugin
--llmbench-solution DIR [--llmbench-adapter DIR] [--llmbench-only-trap T] [--llmbench-out F]``.
This process is trusted (it runs our tests); the solution runs only in the worker.

The fork server (`llmbench.phases.forkserver`) imports this module before pytest starts, so
pytest leaves its asserts as they are (PYTEST_DONT_REWRITE): it has none that need rewriting.
"""
from __future__ import annotations

import json
import re
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import scale
from ..challenge import load_challenge
from ..errors import ContentError
from ..solution import load_adapter
from ..failures import Failure, finite_metrics
from ..phases.conformance import RUN_OPTIONS
from .client import HarnessGap, ReturnMismatch, SolutionError, SolutionProxy, WorkerConfig, WorkerFailure



@dataclass
class SuiteRun:
    """This pytest session's run of a suite: kept on `config.stash`, never in a module global.

    Attributes:
        challenge: The challenge whose suite runs.
        records: Per-test records (node id -> plain dict), written out at the end.
        proxy: The solution's proxy (its sandboxed worker), while the session holds one.
        early: The proxy whose worker was launched while pytest collected, until the
            first test takes it.
        secret_seed: This build's secret seed, once a test asked for it.
    """

    challenge: object
    records: dict = field(default_factory=dict)
    proxy: SolutionProxy | None = None
    secret_seed: int | None = None
    early: SolutionProxy | None = None


SUITE_RUN = pytest.StashKey[SuiteRun]()


def suite_run(config) -> SuiteRun | None:
    """The session's SuiteRun; None when pytest runs without a solution (plain collection)."""
    return config.stash.get(SUITE_RUN, None)


def pytest_addoption(parser):
    """Add the ``--llmbench-*`` options the harness passes to the trusted pytest run."""
    g = parser.getgroup("llmbench")
    g.addoption("--llmbench-solution", help="folder of the solution under test")
    g.addoption("--llmbench-adapter", help="adapters/<model>/<challenge> folder")
    g.addoption("--llmbench-map", action="append", default=[], help="ENTRY=module.attr (adapter.toml mapping)")
    g.addoption("--llmbench-only-trap", help="run only tests marked with this trap, plus smoke tests")
    g.addoption("--llmbench-out", help="write per-test records (JSON) here")
    g.addoption("--llmbench-isolation", default=os.environ.get("LLMBENCH_ISOLATION", "auto"))
    g.addoption("--llmbench-memory-mb", type=int, default=None)
    g.addoption("--llmbench-call-timeout", type=float, default=None)
    g.addoption("--llmbench-secret-seed", type=int, default=None,
                help="the build's secret seed for the `seeds` fixture (default: $LLMBENCH_SECRET_SEED, else random)")
    g.addoption("--llmbench-decisive-only", action="store_true", default=False,
                help="leave out the tests beyond the study's prompt (they never decide a verdict)")
    g.addoption("--llmbench-serve", action="store_true", default=False,
                help="collect the suite once, then run it for each solution the fork server asks for "
                     "(llmbench.conformance.suiteserver)")


def _find_challenge(config) -> Path:
    for arg in config.args:
        p = Path(arg.split("::")[0]).resolve()
        for folder in (p, *p.parents):
            if (folder / "challenge.toml").exists():
                return folder
    raise pytest.UsageError("llmbench plugin: run it on challenges/<id>/conformance (no challenge.toml found)")


def pytest_configure(config):
    """Declare the suite's markers and, in a harness run, load the challenge into the run's `SuiteRun`."""
    config.addinivalue_line("markers", "trap(id): the trap this test detects (an id from challenge.toml)")
    config.addinivalue_line("markers", "smoke: quick check also run for every mutant")
    config.addinivalue_line("markers", "prompt(section): checks a rule the study's prompt states; cite the section")
    config.addinivalue_line("markers", "beyond(why): stricter than the study's prompt; never decides a trap or status")
    if not config.getoption("--llmbench-solution") and not config.getoption("--llmbench-serve"):
        return
    folder = _find_challenge(config)
    config.stash[SUITE_RUN] = SuiteRun(load_challenge(folder))
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # tests import trusted helpers: `from support import ...`
    _note_assert_allclose()
    if config.getoption("--llmbench-solution"):
        _launch_worker_early(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """In a suite server: wait for runs; each forked run takes its options and its tests, and
    then the session goes on as a plain run's (`llmbench.conformance.suiteserver`)."""
    config = session.config
    if not config.getoption("--llmbench-serve") or session.testsfailed:
        return None  # a suite that did not collect: the session ends, the harness runs each solution plainly
    from . import suiteserver

    if not suiteserver.serving():
        raise pytest.UsageError("--llmbench-serve: only the fork server starts suite servers")
    request = suiteserver.serve_runs()  # returns in the forked run
    for dest, value in request["options"].items():
        if dest not in RUN_OPTIONS:
            raise pytest.UsageError(f"not a run option: {dest}")
        setattr(config.option, dest, value)
    config.option.llmbench_serve = False
    _crash_reports_to_own_log()
    _select(config, session.items)
    session.testscollected = len(session.items)
    _restart_clock(config)
    _launch_worker_early(config)
    return None


def _crash_reports_to_own_log() -> None:
    # pytest's faulthandler writes to a copy of the suite server's stderr, made before the fork: a
    # run's crash traceback belongs in the run's own log (its stderr since the fork).
    import faulthandler

    if faulthandler.is_enabled():
        faulthandler.enable(file=os.dup(2), all_threads=True)


def _restart_clock(config) -> None:
    # The summary line's "in N s" counts from the run's start, not from the server's.
    from _pytest import timing

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and hasattr(reporter, "_session_start"):
        reporter._session_start = timing.Instant()


def _launch_worker_early(config) -> None:
    """Launch the solution's worker now, so that its start-up (a sandbox, an interpreter,
    NumPy, the solution's imports) overlaps pytest collecting the suite. Not for a kind that
    needs a device (its tests may all skip); a launch that fails is left to the first test."""
    run = suite_run(config)
    challenge = run.challenge
    if challenge.kind_impl.uses_device:
        return
    try:
        early = SolutionProxy(_worker_config(config, challenge, gpu=False))
    except Exception:  # noqa: BLE001 - the first test builds it again and records the error, as it always did
        return
    early.prestart()
    run.early = early


def pytest_unconfigure(config):
    """Stop a worker launched early that no test took (every test deselected or skipped)."""
    run = suite_run(config)
    if run is not None and run.early is not None:
        run.early.close()
        run.early = None


def _note_assert_allclose() -> None:
    """numpy.testing.assert_allclose in a suite notes its comparison for the scale checks."""
    import numpy.testing

    original = numpy.testing.assert_allclose
    if getattr(original, "_llmbench_noted", False):
        return

    def assert_allclose(actual, desired, rtol=1e-7, atol=0, *args, **kwargs):
        scale.note_comparison(desired, atol=atol, rtol=rtol)
        return original(actual, desired, rtol, atol, *args, **kwargs)

    assert_allclose._llmbench_noted = True
    numpy.testing.assert_allclose = assert_allclose


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Collect what the test compared (`llmbench.conformance.scale`) into its user properties."""
    scale.begin_test()
    try:
        yield
    finally:
        item.user_properties.append(("llmbench_scale", scale.end_test()))


def _trap_of(item) -> str | None:
    mark = item.get_closest_marker("trap")
    return mark.args[0] if mark and mark.args else None


def tier_of(item) -> tuple[str, str] | None:
    """(tier, note) from the closest `prompt("section")` or `beyond("why")` mark (a test's own mark
    overrides its module's `pytestmark`), or None."""
    marks = [(m.name, m.args[0] if m.args else "") for m in item.iter_markers() if m.name in ("prompt", "beyond")]
    return marks[0] if marks else None


def _check_tier(item, trap: str | None) -> None:
    # A suite error, never the solution's: every verdict must say which rules it rests on.
    tier = tier_of(item)
    if tier is None:
        raise ContentError(item.path, f"test {item.name} declares no tier: mark it @pytest.mark.prompt(\"<section of the "
                                      f"study's prompt>\") or @pytest.mark.beyond(\"<why it is stricter>\")")
    if not isinstance(tier[1], str) or not tier[1].strip():
        raise ContentError(item.path, f"test {item.name}: @pytest.mark.{tier[0]} needs a non-empty "
                                      f"{'prompt section' if tier[0] == 'prompt' else 'reason'}")
    if tier[0] == "beyond" and trap is not None:
        raise ContentError(item.path, f"test {item.name} is beyond the prompt but marks trap '{trap}': only prompt "
                                      f"tests decide traps")


@pytest.hookimpl(trylast=True)  # after a suite's conftest has added its marks
def pytest_collection_modifyitems(config, items):
    """Check each test's trap and tier markers; with ``--llmbench-only-trap``, keep that trap's and the smoke tests.

    Raises:
        ContentError: A test marks a trap the challenge does not declare, or lacks a valid tier.
    """
    run = suite_run(config)
    challenge = run.challenge if run else None
    if challenge is None:
        return
    for item in items:
        trap = _trap_of(item)
        if trap is not None and trap not in challenge.trap_ids:
            raise ContentError(item.path, f"test {item.name} marks unknown trap '{trap}'; valid: {', '.join(challenge.trap_ids)}")
        _check_tier(item, trap)
    _select(config, items)


def _select(config, items) -> None:
    """Keep the tests this run asks for: with ``--llmbench-only-trap`` that trap's and the smoke
    tests; with ``--llmbench-decisive-only`` none beyond the prompt."""
    only = config.getoption("--llmbench-only-trap")
    decisive = config.getoption("--llmbench-decisive-only")
    if not only and not decisive:
        return
    keep = [i for i in items if (not only or _trap_of(i) == only or i.get_closest_marker("smoke"))
            and not (decisive and i.get_closest_marker("beyond"))]
    if len(keep) < len(items):
        kept = set(map(id, keep))
        dropped = [i for i in items if id(i) not in kept]
        items[:] = keep
        config.hook.pytest_deselected(items=dropped)


@pytest.fixture(scope="session")
def challenge(request):
    """The challenge whose suite runs (`llmbench.challenge.Challenge`)."""
    return suite_run(request.config).challenge


@pytest.fixture(scope="session")
def gpu(challenge):
    """The accelerator the challenge's kind uses (its facts), or None: tests that need one skip."""
    kind = challenge.kind_impl
    return kind.device() if kind.uses_device else None


def _worker_config(config, challenge, gpu: bool) -> WorkerConfig:
    """The solution's worker, as the harness's options describe it."""
    opt = config.getoption
    limits = challenge.limits
    mapping = dict(m.split("=", 1) for m in opt("--llmbench-map"))
    return WorkerConfig(
        solution=Path(opt("--llmbench-solution")).resolve(),
        adapter=Path(opt("--llmbench-adapter")).resolve() if opt("--llmbench-adapter") else None,
        support=challenge.path,
        mapping=mapping,
        call_timeout_s=opt("--llmbench-call-timeout") or limits["call_timeout_s"],
        memory_mb=opt("--llmbench-memory-mb") or int(limits["memory_mb"]),
        isolation=opt("--llmbench-isolation"),
        gpu=gpu,
        canonical={e.name: e.signature for e in challenge.entry_points if e.signature},
        deterministic=tuple(e.name for e in challenge.entry_points if e.deterministic),
        **challenge.kind_impl.worker_fields(challenge.kind_options),
    )


@pytest.fixture(scope="session")
def _proxy(request, challenge, gpu):
    run = suite_run(request.config)
    if run is None:
        pytest.skip("no --llmbench-solution given")
    proxy, run.early = run.early, None
    if proxy is None:
        proxy = SolutionProxy(_worker_config(request.config, challenge, gpu is not None))
    run.proxy = proxy
    yield proxy
    run.proxy = None
    proxy.close()


# Seeds every multi-seed test draws from: a fixed public set, plus one secret seed per build
# (recorded in the result) that a solution cannot have been tuned to.
PUBLIC_SEEDS = (101, 202, 303)


def secret_seed(config) -> int:
    """This build's secret seed: --llmbench-secret-seed, else $LLMBENCH_SECRET_SEED, else random;
    fixed for the session and recorded in the output."""
    run = suite_run(config)
    if run.secret_seed is None:
        value = config.getoption("--llmbench-secret-seed", default=None)
        if value is None:
            env = os.environ.get("LLMBENCH_SECRET_SEED", "")
            value = int(env) if env.strip().isdigit() else int.from_bytes(os.urandom(4), "little")
        run.secret_seed = int(value)
    return run.secret_seed


@pytest.fixture(scope="session")
def seeds(request) -> tuple[int, ...]:
    """The public seeds and this build's secret seed; a test that uses them loops over all."""
    return (*PUBLIC_SEEDS, secret_seed(request.config))


@pytest.fixture
def solution(_proxy):
    """The solution under test (`llmbench.conformance.client.SolutionProxy`): its entry points, run in the worker."""
    return _proxy


@pytest.fixture(scope="session")
def _not_offered_table(request) -> dict:
    folder = request.config.getoption("--llmbench-adapter")
    return dict(load_adapter(Path(folder)).not_offered) if folder else {}


@pytest.fixture
def not_offered(_not_offered_table):
    """not_offered("feature"): skip the test (its trap is not_run) when the adapter declares
    that the solution does not offer it (adapter.toml [not_offered] feature = "why").

    Read from our own adapter.toml in this trusted process, never from the worker."""
    def check(feature: str) -> None:
        if feature in _not_offered_table:
            pytest.skip(f"not offered by the solution: {_not_offered_table[feature]}")

    return check


@pytest.fixture
def record_metric(request, challenge):
    """``record_metric(name, value)``: record a metric the challenge declares; a NaN or infinite value is
    noted, not recorded.

    Raises:
        ContentError: The metric is not declared in challenge.toml.
    """
    def record(name: str, value) -> None:
        if challenge.metric(name) is None:
            raise ContentError(challenge.path / "challenge.toml",
                               f"metric '{name}' recorded by {request.node.name} is not declared; "
                               f"declared: {', '.join(m.name for m in challenge.metrics)}")
        kept, dropped = finite_metrics({name: value})
        if dropped:  # a NaN/inf figure is no measurement: say so instead of recording it
            request.node.user_properties.append(("llmbench_note", f"metric {name} not recorded: value {value!r}"))
            return
        request.node.user_properties.append(("llmbench_metric", (name, kept[name])))

    return record


@pytest.fixture
def inputs(request):
    """``inputs(text)``: say how to reproduce the test (seeds, shapes); shown with its record."""
    def describe(text: str) -> None:
        request.node.user_properties.append(("llmbench_inputs", str(text)))

    return describe


@pytest.fixture
def case(request):
    """Run one case of a multi-case test: case(label, fn, *args, **kwargs) -> (ok, value).

    The solution raising, crashing or hanging on this case is recorded as the case's outcome
    (TestRecord.cases) and returns (False, None), so the test goes on with the other cases and
    can still compute its metric over all of them. Gaps (needs an adapter, a dependency)
    propagate: they are no case's outcome.
    """
    def run(label: str, fn, *args, **kwargs):
        try:
            value = fn(*args, **kwargs)
        except HarnessGap:
            raise
        except (SolutionError, WorkerFailure) as exc:
            request.node.user_properties.append(("llmbench_case", (str(label), exc.failure.value, _short(str(exc), 300))))
            return False, None
        request.node.user_properties.append(("llmbench_case", (str(label), "passed", "")))
        return True, value

    return run


def pytest_runtest_setup(item):
    """Forget the calls of the previous test."""
    run = suite_run(item.config)
    if run is not None and run.proxy is not None:
        run.proxy.events.clear()


SETUP_S = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record the test's outcome (a call, or a setup that failed or skipped) as plain data; its
    duration is its setup, call and teardown together (as own tests' records count it)."""
    outcome = yield
    report = outcome.get_result()
    run = suite_run(item.config)
    if run is None:
        return
    if report.when == "setup":
        item.stash[SETUP_S] = report.duration
    if report.when == "call" or (report.when == "setup" and (report.failed or report.skipped)):
        _record(item, report, call)
    elif report.when == "teardown" and item.nodeid in run.records:
        rec = run.records[item.nodeid]
        rec["duration_s"] = round(rec["duration_s"] + report.duration, 4)


def _events(item) -> list:
    run = suite_run(item.config)
    return list(run.proxy.events) if run is not None and run.proxy is not None else []


def classify(exc, events, when: str) -> tuple[Failure, bool, str]:
    """(failure, verified, entry) of a failed test from its exception and its calls.

    A gap seen in any call of the test wins over the exception the test ended with: a suite
    that catches broad exceptions (and fails with its own message) must not turn a missing
    dependency or a calling-convention mismatch into a trap. Only our own exception classes
    and the trusted side's call log are read; nothing the solution names.
    """
    gap = next((e for e in events if e.failure is not None and e.failure.is_gap), None)
    if gap is not None:
        return gap.failure, gap.verified, gap.entry
    last = events[-1].entry if events else ""
    if isinstance(exc, ContentError):
        return Failure.HARNESS_ERROR, True, ""
    if isinstance(exc, ReturnMismatch):
        return Failure.PROTOCOL, False, exc.entry or last
    if isinstance(exc, HarnessGap):
        return exc.failure, exc.verified, exc.entry or last
    if isinstance(exc, (SolutionError, WorkerFailure)):
        failed = next((e for e in reversed(events) if e.failure is not None), None)
        return exc.failure, False, failed.entry if failed is not None else last
    if when == "setup":
        return Failure.HARNESS_ERROR, True, ""
    if isinstance(exc, (AssertionError, pytest.fail.Exception)) or exc is None:
        return Failure.WRONG_ANSWER, False, ""
    if events:
        # Our test code choked on what the solution returned (unpacking, int(None), a
        # missing key): the structure differs. Reported, so it counts as a gap only while
        # no test has seen this entry point work.
        return Failure.PROTOCOL, False, last
    return Failure.HARNESS_ERROR, True, ""


def _record(item, report, call) -> None:
    tier, note = tier_of(item) or (None, "")
    events = _events(item)
    calls = list(dict.fromkeys(e.entry for e in events if e.entry))
    rec = {"name": item.nodeid.split("::", 1)[-1], "trap": _trap_of(item), "tier": tier, "tier_note": note,
           "duration_s": round(report.duration + (item.stash.get(SETUP_S, 0.0) if report.when == "call" else 0.0), 4),
           "metrics": {}, "inputs": "", "message": "", "failure": "", "verified": False, "entry": "",
           "calls": calls, "smoke": item.get_closest_marker("smoke") is not None}
    notes = []
    for key, value in item.user_properties:
        if key == "llmbench_metric":
            rec["metrics"][value[0]] = value[1]
        elif key == "llmbench_inputs":
            rec["inputs"] = value
        elif key == "llmbench_scale":
            rec["scale"] = value
        elif key == "llmbench_note":
            notes.append(value)
        elif key == "llmbench_case":
            rec.setdefault("cases", {})[value[0]] = value[1] + (f": {value[2]}" if value[2] else "")
    exc = call.excinfo.value if call.excinfo is not None else None
    if report.passed:
        rec["outcome"] = "passed"
        rec["message"] = _short("; ".join(notes))
    elif report.skipped:
        rec["outcome"] = "skipped"
        longrepr = report.longrepr
        rec["message"] = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        rec["message"] = rec["message"].removeprefix("Skipped: ")
    else:
        failure, verified, entry = classify(exc, events, report.when)
        rec["failure"], rec["verified"], rec["entry"] = failure.value, verified, entry
        rec["outcome"] = "timeout" if failure is Failure.TIMEOUT else ("failed" if failure.value in (
            "wrong_answer", "raised", "crashed", "resource_limit") else "error")
        gap = next((e for e in events if e.failure is not None and e.failure.is_gap), None)
        if gap is not None and not isinstance(exc, HarnessGap):
            rec["message"] = _short(gap.message)
        elif exc is not None:
            rec["message"] = _short(f"{type(exc).__name__}: {exc}" if not isinstance(exc, (WorkerFailure, SolutionError))
                                    else str(exc))
        else:
            rec["message"] = _short(str(report.longrepr))
    suite_run(item.config).records[item.nodeid] = rec


def _short(text: str, limit: int = 2000) -> str:
    # Object addresses differ between runs; results must not.
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text.strip())
    return text if len(text) <= limit else text[: limit - 20] + " ... [truncated]"


def pytest_sessionfinish(session, exitstatus):
    """Write every test's record, the exit status and the secret seed to ``--llmbench-out`` as JSON."""
    out = session.config.getoption("--llmbench-out", default=None)
    run = suite_run(session.config)
    if not out or run is None:
        return
    payload = {"records": list(run.records.values()), "exitstatus": int(exitstatus), "finished": time.time(),
               "secret_seed": run.secret_seed}
    Path(out).write_text(json.dumps(payload, indent=1))
