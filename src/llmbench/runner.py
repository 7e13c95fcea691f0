"""Plan and execute runs: solutions and controls (reference, mutants) -> results/."""
from __future__ import annotations

import codecs
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from . import cheats, failures
from .challenge import Challenge, load_challenges
from .errors import ContentError, LlmbenchError
from .keys import COMPONENTS, changed_components, input_components, phase_key, result_key
from .phases.base import PhaseOutcome, RunContext
from .phases.conformance import TrustedRuns, check_trap_marks
from .phases.forkserver import ForkServer, fix_secret_seed
from .project import Project
from .provenance import environment_facts, provenance
from .reported import extract_reported
from .sandbox import ProcessRegistry, Sandbox
from .schema import AdapterInfo, FileInfo, PhaseResult, Result, TrapVerdict
from .solution import NO_ADAPTER, REFERENCE, Adapter, discover_solutions, solution_files
from .store import ResultStore



@dataclass
class RunSession:
    """The state of one `llmbench run`, owned by it: the stop flag and the live processes.

    Attributes:
        stopping: Set on Ctrl-C (or any abort): running jobs start no further phase, and
            their results are not stored.
        processes: The sandboxed processes started by this run's phases, killed on abort.
        trusted: The trusted pytest runs of its conformance phases (and their fork server).
        slots: Phases running at once, at most ``--jobs`` (None: no limit). A run whose kind
            starts its phases together takes a second slot only when one is free, so the
            machine never runs more phases than asked (their timeouts are wall-clock).
    """

    stopping: threading.Event = field(default_factory=threading.Event)
    processes: ProcessRegistry = field(default_factory=ProcessRegistry)
    trusted: TrustedRuns = field(default_factory=TrustedRuns)
    slots: threading.Semaphore | None = None

    def abort(self) -> None:
        """Stop everything: no new phase starts; trusted test runs stop gracefully (their
        workers' clean-up must run), then every sandboxed process of this run is killed."""
        self.stopping.set()  # before killing: a job whose phase is killed must not start the next one
        self.trusted.stop_all()
        self.processes.close()


@dataclass
class Job:
    """One run: a model's solution, or a control (reference, mutant, cheat) of a challenge.

    Attributes:
        challenge: The challenge.
        model: Model id (`llmbench.solution.REFERENCE` for controls).
        source: The folder under test; for a mutant or cheat the reference (the patch is applied to a copy).
        adapter: The solution's adapter.
        run_kind: ``solution``, ``reference``, ``mutant`` or ``cheat``.
        trap: The mutant's trap or the cheat's name.
        key: The result key (`llmbench.keys.result_key`).
        cached: A stored result has this key: nothing to run.
        inputs: Input component -> digest (`llmbench.keys.input_components`).
        phase_keys: Phase name -> its key.
        reuse: Phase name -> the phase's record from an earlier result with the same key.
        reused_traps: Trap verdicts taken over with a reused conformance phase.
        reused_metrics: Metrics taken over with a reused conformance phase.
        why: Why it runs: the changed components, or ``no result yet``.
    """

    challenge: Challenge
    model: str
    source: Path  # solution folder (for a mutant: the reference; the patch is applied to a copy)
    adapter: Adapter = NO_ADAPTER
    run_kind: str = "solution"
    trap: str | None = None
    key: str = ""
    cached: bool = False
    inputs: dict = field(default_factory=dict)  # component -> digest (llmbench.keys)
    phase_keys: dict = field(default_factory=dict)  # phase -> key
    reuse: dict = field(default_factory=dict)  # phase -> PhaseResult of an earlier run with the same key
    reused_traps: dict = field(default_factory=dict)  # with a reused conformance phase
    reused_metrics: dict = field(default_factory=dict)
    why: list = field(default_factory=list)  # why it re-runs: changed components, or "no result yet"

    @property
    def phases(self) -> list:
        """The phases this run has (its challenge's kind decides; controls run no own tests)."""
        return self.challenge.kind_impl.phases_for(self.run_kind)

    @property
    def phase_names(self) -> list[str]:
        """Names of `phases`, in run order."""
        return [p.name for p in self.phases]

    @property
    def rerun_phases(self) -> list[str]:
        """The phases that run again: those not reused from an earlier result with the same key."""
        return [p for p in self.phase_names if p not in self.reuse]

    @property
    def needs_suite_server(self) -> bool:
        """Whether a phase it re-runs starts a trusted run of the challenge's suite."""
        return any(p.needs_suite_server(self.run_kind, self.adapter) for p in self.phases if p.name not in self.reuse)

    def explain(self) -> str:
        """Why this run re-runs and what of it, e.g. 'adapter changed: re-runs conformance; reuses own_tests'."""
        what = ", ".join(self.rerun_phases)
        reused = f"; reuses {', '.join(self.reuse)}" if self.reuse else ""
        return f"{why_text(self.why)}: re-runs {what}{reused}"

    @property
    def label(self) -> str:
        """The run's name in progress lines: ``<model>/<challenge>``, or ``<challenge>:<control>`` for a control."""
        if self.run_kind == "solution":
            return f"{self.model}/{self.challenge.id}"
        return f"{self.challenge.id}:{'reference' if self.run_kind == 'reference' else self.run_kind + ' ' + self.trap}"

    @property
    def patch(self) -> Path | None:
        """The patch applied to a copy of the reference: the mutant's or the specific cheat's; None otherwise
        (a solution, the reference, or a generic cheat).
        """
        if self.run_kind == "cheat":
            return self.challenge.cheat_patches().get(self.trap)  # None: a generic cheat
        return self.challenge.mutants_dir / f"{self.trap}.patch" if self.run_kind == "mutant" else None


def why_text(why: list[str]) -> str:
    """'adapter changed', 'solution files, suite changed', 'no result yet'."""
    changed = [w for w in why if w in COMPONENTS]
    other = [w for w in why if w not in COMPONENTS]
    return "; ".join(([f"{', '.join(changed)} changed"] if changed else []) + other) or "inputs changed"


def plan_reasons(jobs) -> str:
    """One phrase for the plan line: how many runs re-run for which reason."""
    counts: dict[str, int] = {}
    for job in jobs:
        text = why_text(job.why)
        counts[text] = counts.get(text, 0) + 1
    partial = sum(1 for j in jobs if j.reuse)
    out = ", ".join(f"{text} ({n})" for text, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return out + (f"; {partial} reuse cached phases" if partial else "")


@dataclass
class Plan:
    """What `llmbench run` will do: every job of the chosen solutions and controls, cached ones included."""
    jobs: list[Job] = field(default_factory=list)

    @property
    def to_run(self) -> list[Job]:
        """The jobs whose result is missing or stale."""
        return [j for j in self.jobs if not j.cached]


def make_plan(project: Project, models=(), challenges=(), controls=True, solutions=True,
              isolation: str = "auto", force: bool = False) -> Plan:
    """Plan the runs: each chosen solution and control, keyed, with the phases an earlier result lets it reuse.

    Args:
        project: The repository.
        models (Iterable[str]): Model ids to run; empty means all (and then controls too).
        challenges (Iterable[str]): Challenge ids to run; empty means all.
        controls (bool): Include each challenge's reference, mutants and cheats.
        solutions (bool): Include the models' solutions.
        isolation: Sandbox isolation (``"auto"``, or one the sandbox names); it is part of the keys.
        force: Re-run everything, reusing nothing.

    Returns:
        The plan; nothing has run yet.

    Raises:
        ContentError: An unknown challenge, model or mutant's trap, or a challenge's contributor mistake.
    """
    all_challenges = load_challenges(project.challenges_dir)
    unknown = [c for c in challenges if c not in all_challenges]
    if unknown:
        raise ContentError(project.challenges_dir, f"unknown challenge {', '.join(unknown)}; valid: {', '.join(all_challenges)}")
    chosen = {cid: c for cid, c in all_challenges.items() if not challenges or cid in challenges}
    sandbox_iso = Sandbox(isolation).short_isolation
    store = ResultStore(project.results_dir)
    plan = Plan()
    if solutions:
        found = discover_solutions(project.solutions_dir, project.adapters_dir, chosen)
        known_models = {s.model for s in found}
        for m in models:
            if m not in known_models and not (project.solutions_dir / m).is_dir():
                raise ContentError(project.solutions_dir, f"unknown model '{m}'; models: {', '.join(sorted(known_models)) or 'none'}")
        for sol in found:
            if models and sol.model not in models:
                continue
            plan.jobs.append(Job(chosen[sol.challenge], sol.model, sol.path, sol.adapter))
    if controls and not models:
        for c in chosen.values():
            if c.reference_dir.is_dir():
                plan.jobs.append(Job(c, REFERENCE, c.reference_dir, run_kind="reference"))
                for trap, _patch in c.mutant_patches().items():
                    if trap not in c.trap_ids:
                        raise ContentError(_patch, f"mutant for unknown trap '{trap}'; traps: {', '.join(c.trap_ids)}")
                    plan.jobs.append(Job(c, REFERENCE, c.reference_dir, run_kind="mutant", trap=trap))
                for name in c.cheat_names:
                    plan.jobs.append(Job(c, REFERENCE, c.reference_dir, run_kind="cheat", trap=name))
    for job in plan.jobs:
        key_job(job, environment_facts(sandbox_iso, job.challenge.kind_impl))
        if force:
            job.why = ["--force"]
            continue
        plan_reuse(job, store)
    # Contributor mistakes in a suite that is about to run fail before anything runs. A suite
    # whose every job is cached was checked when those ran (its files are in their keys).
    for cid in dict.fromkeys(job.challenge.id for job in plan.to_run):
        check_trap_marks(chosen[cid])
    return plan


def key_job(job: Job, env: dict) -> None:
    """Fill the job's input components, phase keys and result key."""
    limits = {**job.challenge.limits, **job.adapter.limits}
    # a generic cheat is the reference wrapped by llmbench.cheats: its code is part of the "solution"
    extra = cheats.wrappers_hash() if job.run_kind == "cheat" and job.patch is None else ""
    job.inputs = input_components(job.source, job.adapter.path, job.challenge.path, env, limits,
                                  patch=job.patch, trap=job.trap, extra=extra)
    run = f"{job.run_kind}:{job.trap or ''}"
    job.phase_keys = {p.name: phase_key(p, job.inputs, run) for p in job.phases}
    job.key = result_key(job.phase_keys, run)


def plan_reuse(job: Job, store: ResultStore) -> None:
    """Compare with the stored result: cached, or which phases can be reused and why the rest re-run."""
    path = store.path_for(job.model, job.challenge.id, job.run_kind, job.trap)
    old = store.read(path)
    if old is None:
        job.why = ["stored result unreadable" if path.exists() else "no result yet"]
        return
    if old.key == job.key:
        job.cached = True
        return
    why: list[str] = []
    for p in job.phases:
        phase = p.name
        before = old.phases.get(phase)
        # A harness error is ours, never a verdict worth keeping.
        if before is not None and before.key == job.phase_keys[phase] and before.status != "harness_error":
            job.reuse[phase] = before.model_copy(update={
                "reused_from": before.reused_from or f"{old.provenance.date} (commit {old.provenance.commit})"})
            continue
        changed = changed_components(p, old.inputs, job.inputs)
        if not old.inputs:
            changed = ["recorded without per-phase keys"]
        why += [c for c in changed if c not in why]
    if any(p.decides_traps and p.name in job.reuse for p in job.phases):
        job.reused_traps, job.reused_metrics = dict(old.traps), dict(old.metrics)
    job.why = why


# ------------------------------------------------------------------------------ locking
@contextmanager
def run_lock(project: Project, wait: bool = True, on_wait=None):
    """One `llmbench run` at a time per repository: the second waits (or fails fast)."""
    project.state_dir.mkdir(parents=True, exist_ok=True)
    fh = open(project.state_dir / "run.lock", "w")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise LlmbenchError(f"another llmbench run holds {project.state_dir / 'run.lock'}; wait for it to finish") from None
            if on_wait:
                on_wait()
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()


# ------------------------------------------------------------------------------ executing
def materialise_mutant(job: Job) -> Path:
    """A temporary copy of the reference with the mutant's (or specific cheat's) patch applied."""
    tmp = Path(tempfile.mkdtemp(prefix=f"llmbench-{job.run_kind}-"))
    dest = tmp / "reference"
    shutil.copytree(job.source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    if job.patch is None:
        return dest
    proc = subprocess.run(["git", "apply", "-p1", "--whitespace=nowarn", str(job.patch)], cwd=dest,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        proc = subprocess.run(["patch", "-p1", "--batch", "--silent", "-i", str(job.patch)], cwd=dest,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ContentError(job.patch, f"does not apply to {job.challenge.reference_dir}: "
                           f"{(proc.stderr or proc.stdout).strip()[:300]}; regenerate it with diff -u")
    return dest


CODE_SUFFIXES = (".py", ".cu", ".cuh", ".c", ".cpp", ".h")


def file_infos(folder: Path) -> tuple[list[FileInfo], int]:
    """The solution's files as published, and its lines of code.

    Files are streamed (a solution may hold a multi-GB checkpoint); links and special files are
    listed but never opened.

    Returns:
        One `FileInfo` per file, and the count of non-blank, non-comment lines of its code files.
    """
    infos, loc = [], 0
    for rel in solution_files(folder):
        p = folder / rel
        # Undecodable file names are shown with \x escapes (the result must be valid UTF-8).
        name = os.fsencode(rel.as_posix()).decode("utf-8", "backslashreplace")
        if p.is_symlink() or not p.is_file():  # links are never followed; FIFOs never opened
            infos.append(FileInfo(path=name, bytes=0, binary=True))
            continue
        # Streamed: a solution folder may hold a multi-GB checkpoint.
        size = lines = 0
        binary, last = False, b""
        decoder = codecs.getincrementaldecoder("utf-8")()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                if size == 0 and b"\0" in chunk[:8192]:
                    binary = True
                size += len(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                if not binary:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        binary = True
        if not binary:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                binary = True
        lines = 0 if binary else lines + (1 if size and last != b"\n" else 0)
        if not binary and rel.suffix in CODE_SUFFIXES and size <= 64 * 1024 * 1024:
            loc += sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.strip()
                       and not line.strip().startswith(("#", "//")))
        infos.append(FileInfo(path=name, bytes=size, lines=lines, binary=binary))
    return infos, loc


def materialise_generic_cheat(job: Job, copy: Path) -> Adapter:
    """An adapter next to the reference's copy whose adapter.py wraps every entry point with the cheat."""
    c = job.challenge
    modules = cheats.entry_modules(copy, [e.name for e in c.entry_points])
    missing = [e.name for e in c.entry_points if e.name not in modules]
    if missing:
        raise ContentError(c.reference_dir, f"generic cheats need the reference to define {', '.join(missing)} "
                                            "at the top level of one of its modules")
    folder = copy.parent / "cheat_adapter"
    folder.mkdir()
    (folder / "adapter.py").write_text(cheats.generic_adapter_source(job.trap, modules))
    return Adapter(folder, notes=f"generic cheat {job.trap}")


def execute(job: Job, project: Project, isolation: str = "auto", session: "RunSession | None" = None) -> Result:
    """Run one job's phases (reusing those whose key is unchanged) and return its result.

    Args:
        job: The planned run.
        project: The repository.
        isolation: auto, bwrap or fallback.
        session: The `llmbench run` this job belongs to (its stop flag and live processes);
            a fresh one when None.

    Returns:
        The result; a harness bug is a ``harness_error`` result, never an exception.

    Raises:
        ContentError: A contributor's file is wrong (a mutant patch that does not apply).
    """
    session = session or RunSession()
    start = time.monotonic()
    c = job.challenge
    kind = c.kind_impl
    device = kind.device() if kind.uses_device else None
    # The accelerator's device files are bound only for kinds that use one, and only when present.
    sandbox = Sandbox(isolation, gpu=device is not None, processes=session.processes)
    limits = {**c.limits, **job.adapter.limits}  # an adapter may raise a limit for its solution
    phases: dict[str, PhaseResult] = {}
    traps: dict[str, TrapVerdict] = {}
    metrics = {}
    source = job.source
    tmp_mutant = None
    try:
        adapter = job.adapter
        if job.run_kind in ("mutant", "cheat"):
            tmp_mutant = source = materialise_mutant(job)
            if job.run_kind == "cheat" and job.patch is None:
                adapter = materialise_generic_cheat(job, source)
        ctx = RunContext(challenge=c, source=source, adapter=adapter, run_kind=job.run_kind, trap=job.trap,
                         sandbox=sandbox, limits=limits, device=device, stopping=session.stopping,
                         trusted=session.trusted)
        outcomes = run_phases([p for p in job.phases if p.name not in job.reuse], ctx, kind.concurrent_phases,
                              session.slots)
        for phase in job.phases:  # recorded in the kind's order, however they ran
            if phase.name in job.reuse:  # same inputs as a stored phase: its verdict stands
                phases[phase.name] = job.reuse[phase.name]
                if phase.decides_traps:
                    traps, metrics = dict(job.reused_traps), dict(job.reused_metrics)
            elif phase.name in outcomes:
                outcome = outcomes[phase.name]
                phases[phase.name] = outcome.result
                if phase.decides_traps:
                    traps, metrics = outcome.traps, outcome.metrics
                phases[phase.name].key = job.phase_keys.get(phase.name, "")
        judging = tuple(p.name for p in job.phases if p.judges_behaviour)
        status, reason = overall_status(phases, traps, judging)  # no_adapter: needs_adapter, our gap
        reported = extract_reported(source, c) if job.run_kind == "solution" else {}
        infos, loc = file_infos(source)
    except ContentError:
        raise
    except Exception as exc:  # noqa: BLE001 - a harness bug must not stop the other runs
        status, reason, infos, loc, reported = "harness_error", f"{type(exc).__name__}: {exc}", [], 0, {}
    finally:
        if tmp_mutant is not None:
            shutil.rmtree(tmp_mutant.parent, ignore_errors=True)
    adapter = AdapterInfo(kind=job.adapter.kind, mapping=job.adapter.mapping, harness=job.adapter.harness,
                          notes=job.adapter.notes, no_adapter=job.adapter.no_adapter)
    return Result(model=job.model, challenge=c.id, run_kind=job.run_kind,
                  mutant_trap=job.trap if job.run_kind == "mutant" else None,
                  cheat=job.trap if job.run_kind == "cheat" else None, status=status,
                  reason=reason, phases=phases, traps=traps, metrics=metrics, reported=reported, loc=loc, files=infos, adapter=adapter,
                  provenance=provenance(project.root, c.suite_version, sandbox.short_isolation, kind), key=job.key,
                  inputs=job.inputs, duration_s=round(time.monotonic() - start, 3))


def run_phases(to_run: list, ctx: RunContext, concurrent: bool,
               slots: threading.Semaphore | None = None) -> dict[str, PhaseOutcome]:
    """Run phases, together (`Kind.concurrent_phases`) or in order, each holding one of the
    run's `slots` while it runs; an interrupted run starts no further phase (its result is
    never stored).

    Returns:
        Phase name -> outcome, for the phases that ran.

    Raises:
        Exception: The first phase's error, once every phase started has ended.
    """
    def one(phase):
        phase.prepare(ctx)  # before its slot: waiting for a process to start leaves the machine to others
        with slots if slots is not None else nullcontext():
            return phase.run(ctx) if not ctx.stopping.is_set() else None

    if not concurrent or len(to_run) < 2:
        outcomes = {}
        for phase in to_run:
            outcome = one(phase)
            if outcome is None:
                break
            outcomes[phase.name] = outcome
        return outcomes
    with ThreadPoolExecutor(max_workers=len(to_run), thread_name_prefix="llmbench-phase") as pool:
        futures = {phase.name: pool.submit(one, phase) for phase in to_run}
    done = {name: fut.result() for name, fut in futures.items()}
    return {name: outcome for name, outcome in done.items() if outcome is not None}


def overall_status(phases: dict[str, PhaseResult], traps: dict[str, TrapVerdict],
                   judging: tuple[str, ...] = failures.JUDGING_PHASES) -> tuple[str, str]:
    """The result's status word (see schema.STATUS_MEANING); rules in llmbench.failures."""
    return failures.overall_status(phases, traps, judging)


def verdict_signature(result: Result) -> str:
    """What a verdict is made of: the status and every trap's verdict (timings and messages excluded)."""
    traps = ",".join(f"{t}={v.status}" for t, v in sorted(result.traps.items()))
    return f"{result.status}; {traps}"


def is_flaky(result: Result) -> bool:
    """Whether a repeated run (``--repeat N``) gave different verdicts."""
    return len(set(result.repeat_verdicts)) > 1


def execute_repeated(job: Job, project: Project, isolation: str, repeat: int,
                     session: RunSession | None = None) -> Result:
    """Run a job `repeat` times; the first result, carrying every run's verdict."""
    session = session or RunSession()
    first = execute(job, project, isolation, session)
    verdicts = [verdict_signature(first)]
    for _ in range(repeat - 1):
        if session.stopping.is_set():
            break
        verdicts.append(verdict_signature(execute(job, project, isolation, session)))
    if repeat > 1:
        first.repeat_verdicts = verdicts
    return first


def new_session(jobs: int, server: "ForkServer | None" = None) -> RunSession:
    """The session of a run of `jobs` parallel runs (at most that many phases at once).

    It also fixes the build's secret seed for the suites' multi-seed tests (each result
    records it) before the session's fork server starts with this environment.

    Args:
        jobs: Phases at once.
        server: A fork server already started (`llmbench.phases.forkserver.start_early`) for
            the session to take over; else it starts its own.
    """
    fix_secret_seed()
    return RunSession(slots=threading.BoundedSemaphore(max(1, jobs)), trusted=TrustedRuns(server))


def run_plan(plan: Plan, project: Project, jobs: int, isolation: str = "auto", on_done=None,
             repeat: int = 1, on_start=None, session: RunSession | None = None) -> list[Result]:
    """Run every uncached job (each `repeat` times); write each result as soon as it is complete.

    Args:
        plan: The plan (`make_plan`); cached jobs are skipped.
        project: The repository.
        jobs: Runs in parallel.
        isolation: Sandbox isolation mode.
        on_done (Callable | None): Called as ``on_done(job, result)`` once a result is stored.
        repeat: Runs of each job (``--repeat``); the verdicts of all are recorded.
        on_start (Callable | None): Called as ``on_start(job)`` when a job starts.
        session: The run's session (`new_session`), when the caller made it earlier (the CLI
            does, to start the fork server while it plans); else a new one.

    Returns:
        The results stored, in completion order. On an interrupt (or any error) the run is
        aborted (`RunSession.abort`) and the exception propagates; results already stored stay.
    """
    store = ResultStore(project.results_dir)
    results = []
    todo = plan.to_run
    session = session or new_session(jobs)

    def one(job: Job) -> Result:
        if on_start and not session.stopping.is_set():
            on_start(job)
        return execute_repeated(job, project, isolation, max(1, repeat), session)

    # Trusted pytest runs fork from one pre-imported process while the plan runs (started now,
    # ahead of the first conformance phase); it stops after the pool's last job.
    with session.trusted, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        session.trusted.prepare({job.challenge.id: job.challenge for job in todo if job.needs_suite_server}.values())
        futures = {pool.submit(one, job): job for job in todo}
        try:
            for fut in as_completed(futures):
                job = futures[fut]
                result = fut.result()
                store.write(result)
                results.append(result)
                if on_done:
                    on_done(job, result)
        except BaseException:
            for f in futures:
                f.cancel()
            session.abort()
            raise
    return results
