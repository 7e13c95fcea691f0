"""Trusted side of the worker protocol: start a sandboxed worker, call into it, get plain data."""
from __future__ import annotations

import json
import os
import select
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import wire
from . import scale
from ..failures import Failure
from ..sandbox import Limits, Sandbox, TailBuffer, describe_exit, drain, make_copy, remove_copy

STARTUP_TIMEOUT_S = 60.0


class SolutionError(Exception):
    """The solution raised an exception inside the worker."""

    failure = Failure.RAISED

    def __init__(self, type_name: str, message: str, tb: str = ""):
        self.type_name, self.message, self.traceback = type_name, message, tb
        super().__init__(f"solution raised {type_name}: {message}")


class WorkerFailure(Exception):
    """The worker died or misbehaved: the test fails with this reason."""

    failure = Failure.CRASHED


class WorkerCrash(WorkerFailure):
    """The worker process died during a call (a crash, a signal, its own exit)."""
    pass


class ResourceLimit(WorkerCrash):
    """The worker was stopped by its memory (or other) limit."""

    failure = Failure.RESOURCE_LIMIT


class CallTimeout(WorkerFailure):
    """A call ran past its time limit, measured by the trusted side; the worker is restarted."""
    failure = Failure.TIMEOUT


class HarnessGap(WorkerFailure):
    """A call that could not judge behaviour (our gap). The trusted side decided it (verified)
    or the worker reported it (then it counts only for entry points no test saw working)."""

    failure = Failure.HARNESS_ERROR

    def __init__(self, message: str, entry: str = "", verified: bool = True):
        super().__init__(message)
        self.entry, self.verified = entry, verified


class EntryPointMissing(HarnessGap):
    """The solution has no such entry point (maps to trap not_run, never fell_in)."""

    failure = Failure.ENTRY_MISSING


class MissingDependency(HarnessGap):
    """The solution imports a package the sandbox lacks."""

    failure = Failure.MISSING_DEPENDENCY


class ProtocolMismatch(HarnessGap):
    """The calling conventions differ: arguments, a method of an object, or a return structure."""

    failure = Failure.PROTOCOL


class AmbiguousEntry(HarnessGap):
    """Several of the solution's modules define the entry point: an adapter must say which (our gap)."""
    failure = Failure.AMBIGUOUS


class LoadError(HarnessGap):
    """The module defining the entry point raised on import (the solution's fault, no trap evidence)."""

    failure = Failure.LOAD_ERROR


class ReturnMismatch(ProtocolMismatch):
    """Raised by a suite's structure check (expect_structure): the value returned does not have
    the canonical structure. Reported, not verified: the solution chose what to return."""

    def __init__(self, message: str, entry: str = ""):
        super().__init__(message, entry, verified=False)


_PROBE_FAILURES = {"entry_missing": EntryPointMissing, "missing_dependency": MissingDependency,
                   "ambiguous_entry": AmbiguousEntry, "load_error": LoadError}


@dataclass
class CallEvent:
    """One call into the worker, as the trusted side saw it (the plugin reads these per test)."""

    entry: str
    failure: Failure | None = None
    verified: bool = False
    message: str = ""


@dataclass
class CallResult:
    """One call's value and measurements. seconds: our clock around the call. peak_bytes and
    rss_delta_bytes: the worker's peak resident growth measured from outside (measure_memory
    calls; otherwise None). output_bytes: arrays in the value, counted by us.
    largest_step_bytes and self_reported_peak_bytes: tracemalloc inside the solution's
    process, self-reported: a solution can stop that tracer, so no verdict rests on them alone."""

    value: object
    seconds: float
    peak_bytes: int | None = None
    largest_step_bytes: int | None = None
    rss_delta_bytes: int | None = None
    output_bytes: int = 0
    self_reported_peak_bytes: int | None = None


@dataclass
class WorkerConfig:
    """How to start the sandboxed worker for one solution.

    Attributes:
        solution: The solution folder (copied before the worker starts).
        adapter: The adapter folder, if any.
        support: The challenge's folder (support.py and `support_files` come from it).
        mapping: Canonical entry point -> ``module.attribute`` (adapter.toml).
        call_timeout_s: Time limit of each call.
        memory_mb: Memory limit of the worker (when `caps_memory`).
        isolation: Sandbox isolation mode.
        gpu: Bind the GPU into the sandbox.
        canonical: Entry point -> its canonical signature text (challenge.toml).
        deterministic: Entry points whose first call in each test is repeated and compared.
        native: The worker's loader of compiled entry points, ``module:function`` (from the kind).
        native_options: The challenge's kind table, passed to that loader.
        support_files: More files of the challenge folder the worker needs.
        caps_memory: False: no address-space cap on the worker (a GPU driver needs the range).
    """
    solution: Path
    adapter: Path | None = None
    support: Path | None = None  # the challenge's folder (support.py and support_files come from it)
    mapping: dict | None = None
    call_timeout_s: float = 60.0
    memory_mb: int | None = 4096
    isolation: str = "auto"
    gpu: bool = False
    canonical: dict | None = None  # entry -> canonical signature text (challenge.toml)
    deterministic: tuple = ()  # entries whose first call in each test is repeated and compared
    # From the challenge's kind (llmbench.kinds.Kind):
    native: str | None = None  # the worker's loader of compiled entry points, "module:function"
    native_options: dict | None = None  # the challenge's kind table, passed to that loader
    support_files: tuple = ()  # more files of the challenge folder the worker needs
    caps_memory: bool = True  # False: no address-space cap on the worker (a GPU driver needs the range)


class WorkerClient:
    """One sandboxed worker process on a fresh copy of the solution."""

    def __init__(self, config: WorkerConfig):
        self.config = config
        self.sandbox = Sandbox(config.isolation, gpu=config.gpu)
        self.process = None
        self.stderr = TailBuffer()
        self.copy: Path | None = None
        self.dead_reason = ""
        self._starting = False  # launched, its "ready" not yet read

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Copy the solution (and adapter, support files), start the worker on the copy in the
        sandbox and wait until it is ready.

        Raises:
            WorkerCrash: It died or did not say it was ready.
            CallTimeout: It was not ready within STARTUP_TIMEOUT_S.
        """
        self.launch()
        self.await_ready()

    @property
    def starting(self) -> bool:
        """Whether the worker was launched and has not yet been waited for (`await_ready`)."""
        return self._starting and self.process is not None

    def launch(self) -> None:
        """Start the worker (as `start` does) without waiting for it: its start-up then overlaps
        the caller's own work; the first request waits for it (`await_ready`)."""
        cfg = self.config
        self.copy = make_copy(cfg.solution)
        scratch = self.copy.parent
        ro: list[Path] = []
        argv = [sys.executable, "-m", "llmbench.worker", "--solution", str(self.copy)]
        if cfg.native:
            argv += ["--native", cfg.native, "--native-options", json.dumps(cfg.native_options or {})]
        if cfg.adapter is not None and cfg.adapter.is_dir():
            adapter = scratch / "adapter"
            shutil.copytree(cfg.adapter, adapter, symlinks=True)
            os.chmod(scratch, 0o755)
            ro.append(adapter)
            argv += ["--adapter", str(adapter)]
        wanted = [name for name in ("support.py", *cfg.support_files)
                  if cfg.support is not None and (cfg.support / name).is_file()]
        if wanted:
            support = scratch / "support"
            support.mkdir()
            for name in wanted:
                shutil.copy2(cfg.support / name, support / Path(name).name)
            ro.append(support)
            argv += ["--support", str(support)]
        for entry, target in (cfg.mapping or {}).items():
            argv.append(f"--map={entry}={target}")  # one token: never read as an option
        import subprocess

        limits = Limits(wall_s=10**6, cpu_s=10**6, memory_mb=cfg.memory_mb if cfg.caps_memory else None)
        self.stderr = TailBuffer()
        self.process = self.sandbox.popen(argv, workdir=self.copy, limits=limits, ro=ro, python=True,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        drain(self.process.proc.stderr, self.stderr)
        self._starting = True

    def await_ready(self) -> None:
        """Wait for a launched worker to say it is ready (nothing to do when it already has).

        Raises:
            WorkerCrash: It died or sent something else.
            CallTimeout: It was not ready within STARTUP_TIMEOUT_S.
        """
        if not self._starting:
            return
        self._starting = False
        header, _ = self._receive(STARTUP_TIMEOUT_S, what="start")
        if header.get("value") != "ready":
            self.stop()
            raise WorkerCrash("worker did not start: " + self.stderr.text()[-2000:])

    def stop(self) -> None:
        """Stop the worker and remove its copy."""
        self._starting = False
        if self.process is not None:
            try:
                self.process.proc.stdin.close()
            except OSError:
                pass
            self.process.kill()
            self.process = None
        if self.copy is not None:
            remove_copy(self.copy)
            self.copy = None

    @property
    def alive(self) -> bool:
        """Whether the worker process is running."""
        return self.process is not None and self.process.proc.poll() is None

    # -- transport ----------------------------------------------------------------------
    def _receive(self, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        stream = _DeadlineReader(self.process.proc.stdout, deadline)
        try:
            return wire.read_message(stream)
        except TimeoutError:
            self._die()
            raise CallTimeout(f"timeout after {timeout:g} s ({what}); worker killed") from None
        except EOFError:
            reason = self._die()
            cls = ResourceLimit if reason.startswith("memory limit") else WorkerCrash
            raise cls(f"worker died during {what}: {reason}") from None
        except wire.ProtocolError as exc:
            self._die()
            raise WorkerCrash(f"worker sent a malformed reply during {what}: {exc}") from None

    def _die(self) -> str:
        proc = self.process.proc
        try:
            proc.wait(timeout=2)
        except Exception:  # noqa: BLE001
            pass
        rc = proc.poll()
        self.process.kill()
        tail = self.stderr.text()[-1500:]
        reason = describe_exit(rc, False, Limits())
        if "MemoryError" in tail:
            reason = "memory limit exceeded (MemoryError)"
        elif rc is not None and rc < 0 and -rc == 9:
            reason = "killed (SIGKILL: memory limit, or it killed itself)"
        elif rc == 0 or rc is None:
            reason = f"exited (status {rc})" if rc is not None else "closed its channel"
        self.dead_reason = reason + (f"; stderr tail: {tail.strip()[-600:]}" if tail.strip() else "")
        self.process = None
        return self.dead_reason

    def request(self, header: dict, blobs: list[bytes], timeout: float | None = None):
        """Send one request and return the reply's header and blobs, restarting a dead worker first.

        With ``measure_memory`` in the header, the worker's memory growth during the call is
        measured from outside (`MemoryMeter`) and added to the reply as ``outside``.

        Args:
            header: The request (``op`` and its fields).
            blobs: Its binary payloads.
            timeout: Time limit; the config's call timeout when None.

        Raises:
            WorkerCrash: The worker died.
            CallTimeout: No reply in time.
        """
        self.await_ready()
        if not self.alive:
            self.stop()
            self.start()
        try:
            wire.write_message(self.process.proc.stdin, header, blobs)
        except (BrokenPipeError, OSError):
            reason = self._die()
            raise WorkerCrash(f"worker died: {reason}") from None
        what = header.get("entry") or header.get("name") or header["op"]
        timeout = timeout or self.config.call_timeout_s
        if not header.get("measure_memory"):
            reply, rblobs = self._receive(timeout, what=what)
            reply.pop("outside", None)  # only our meter writes this
            return reply, rblobs
        deadline = time.monotonic() + timeout
        reply, rblobs = self._receive(timeout, what=what)
        if not reply.get("started"):
            reply.pop("outside", None)
            return reply, rblobs  # failed before the call (inputs, entry point)
        meter = MemoryMeter(self.process.proc.pid)
        meter.start()
        try:
            reply, rblobs = self._receive(max(0.001, deadline - time.monotonic()), what=what)
        finally:
            grown = meter.finish()
        reply["outside"] = {"peak_bytes": grown}
        return reply, rblobs


def _status(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in bytes of a process, None when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            text = fh.read(8192)
    except OSError:
        return None
    rss = hwm = 0
    for line in text.splitlines():
        if line.startswith(b"VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith(b"VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return rss, hwm


def _reset_peak(pid: int) -> None:
    """Set a process's high-water mark (VmHWM) to its current resident size, so that a spike
    between two samples still shows at the end (clear_refs "5"; ignored where not allowed)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "wb", buffering=0) as fh:
            fh.write(b"5")
    except OSError:
        pass


def _tree(root: int) -> list[int]:
    out, todo = [], [root]
    while todo and len(out) < 4096:
        pid = todo.pop()
        out.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


class MemoryMeter:
    """Peak memory growth of a worker's process tree, measured from outside (the trusted side).

    Samples every process's resident set every millisecond while the call runs and reads its
    high-water mark (VmHWM) at the end: nothing inside the solution's process (tracemalloc,
    its clock, what it reports) enters this figure. Growth is counted from the moment the
    worker said its inputs were decoded.
    """

    INTERVAL_S = 0.001

    def __init__(self, root_pid: int):
        import threading

        self.root = root_pid
        self.base: dict[int, tuple[int, int]] = {}
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        for pid in _tree(root_pid):
            _reset_peak(pid)
            st = _status(pid)
            if st is not None:
                self.base[pid] = st
                self.peak[pid] = st[0]

    def start(self) -> None:
        """Start sampling in a background thread."""
        self._thread.start()

    def _sample(self, pids) -> None:
        for pid in pids:
            st = _status(pid)
            if st is not None:
                self.peak[pid] = max(self.peak.get(pid, 0), st[0])

    def _run(self) -> None:
        pids, refreshed = list(self.base), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 0.05:
                pids, refreshed = _tree(self.root), time.monotonic()
            self._sample(pids)
            self._stop.wait(self.INTERVAL_S)

    def finish(self) -> int:
        """Stop sampling; -> the sum over processes of their peak resident growth (bytes)."""
        self._stop.set()
        self._thread.join()
        grown = 0
        for pid in set(self.peak) | set(_tree(self.root)):
            st = _status(pid)
            base_rss, base_hwm = self.base.get(pid, (0, 0))
            peak = self.peak.get(pid, 0)
            if st is not None and st[1] > base_hwm:
                peak = max(peak, st[1])  # a new high-water mark: a spike between samples
            grown += max(0, peak - base_rss)
        return grown


class _DeadlineReader:
    """A blocking read that gives up at a deadline (select on the pipe)."""

    def __init__(self, stream, deadline: float):
        self.stream, self.deadline = stream, deadline
        self.fd = stream.fileno()

    def read(self, n: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        return os.read(self.fd, min(n, 1 << 20))


class RemoteHandle(wire.HandleRef):
    """An object living in the worker; method calls go to the worker. May be passed back as an argument."""

    def __init__(self, proxy: "SolutionProxy", hid: int, type_name: str, generation: int):
        super().__init__(hid, type_name)
        self._proxy, self._id, self._type, self._gen = proxy, hid, type_name, generation

    def __repr__(self) -> str:
        return f"<remote {self._type} #{self._id}>"

    def attr(self, name: str):
        """The value of an attribute of the remote object."""
        return self._proxy._request({"op": "attr", "handle": self._id, "name": name}, [], None, self)[0]

    def call_method(self, name: str, *args, measure_memory: bool = False, timeout: float | None = None, **kwargs):
        """Call a method of the remote object in the worker; its `CallResult` (memory measured from
        outside when `measure_memory`)."""
        return self._proxy._invoke({"op": "method", "handle": self._id, "name": name}, args, kwargs,
                                   measure_memory, timeout, self)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args, **kwargs):
            return self.call_method(name, *args, **kwargs).value

        return method


class SolutionProxy:
    """The `solution` fixture: entry points of the solution, executed in the worker.

    Before an entry point's first call the proxy asks the worker where it is and what its
    parameters are (once per session, before any test input reaches the solution), checks
    them against the canonical signature and binds every call's arguments itself. A gap
    found that way is *verified*: a solution cannot fake it on a trap's inputs.
    """

    def __init__(self, config: WorkerConfig):
        self._config = config
        self._client = WorkerClient(config)
        self._generation = 0
        self._probes: dict[str, dict] = {}
        self.events: list[CallEvent] = []  # calls of the current test (the plugin clears it)

    def prestart(self) -> None:
        """Launch the worker now without waiting for it (`WorkerClient.launch`): the first call
        waits. Whatever goes wrong launching it is left for that first call to meet and report."""
        if self._client.process is not None:
            return
        try:
            self._client.launch()
        except Exception:  # noqa: BLE001 - the first call starts it again and reports the error
            self._client.stop()
            return
        self._generation += 1

    def _ensure(self) -> WorkerClient:
        if self._client.starting:
            self._client.await_ready()
            return self._client
        if not self._client.alive:
            self._client.stop()
            self._generation += 1
            self._client.start()
        return self._client

    def fresh(self) -> "SolutionProxy":
        """Restart the worker (for measurements that need a fresh process)."""
        self._client.stop()
        self._ensure()
        return self

    def close(self) -> None:
        """Stop the worker."""
        self._client.stop()

    # -- trusted facts about entry points ------------------------------------------------
    def probe(self, entry: str) -> dict:
        """{"found": bool, "failure": Failure value, "message", "params", "where", "differs"}."""
        if entry not in self._probes:
            try:
                raw, _ = self._request({"op": "probe", "entry": entry}, [], None)
            except (WorkerFailure, SolutionError) as exc:
                # Loading the solution killed, hung or corrupted the worker before any test
                # input reached it: it cannot run (the solution's fault, but no trap evidence).
                hung = "hung " if isinstance(exc, CallTimeout) else ""
                raw = {"found": False, "failure": "load_error", "message": f"{hung}while loading {entry}: {exc}"}
            self._probes[entry] = self._checked_probe(entry, raw)
        return self._probes[entry]

    def _checked_probe(self, entry: str, raw) -> dict:
        from ..signature import differences, parse_canonical, render

        if not isinstance(raw, dict):
            raise WorkerCrash(f"worker sent a malformed probe reply for {entry}")
        if not raw.get("found"):
            kind = str(raw.get("failure", "entry_missing"))
            return {"found": False, "failure": kind if kind in _PROBE_FAILURES else "entry_missing",
                    "message": str(raw.get("message", ""))[:2000]}
        params = raw.get("params")
        canonical_text = (self._config.canonical or {}).get(entry, "")
        canonical = parse_canonical(canonical_text) if canonical_text else None
        diff = differences(canonical, params) if canonical is not None else []
        out = {"found": True, "params": params, "where": str(raw.get("where", ""))[:300], "differs": ""}
        if diff:
            out["differs"] = (f"{render(entry, params)} here, canonical {render(entry, canonical)}: "
                              + "; ".join(diff))
        return out

    def _check_call(self, entry: str, args: tuple, kwargs: dict) -> None:
        """Raise the verified gap of this call, if any, before the solution sees its inputs."""
        from ..signature import bind_error

        info = self.probe(entry)
        if not info["found"]:
            cls = _PROBE_FAILURES[info["failure"]]
            message = info["message"]
            if cls is MissingDependency:
                message = f"missing dependency {message}"
            raise cls(message, entry)
        if info["differs"]:
            raise ProtocolMismatch(info["differs"], entry)
        why = bind_error(info["params"], len(args), list(kwargs))
        if why:
            raise ProtocolMismatch(f"{entry}: the call does not bind ({why})", entry)

    # -- transport --------------------------------------------------------------------------
    def _request(self, header, blobs, timeout, handle=None):
        client = self._ensure()
        if handle is not None and handle._gen != self._generation:
            raise WorkerCrash("this remote object died with an earlier worker")
        reply, rblobs = client.request(header, blobs, timeout)
        what = header.get("entry") or header.get("name") or ""
        if not reply.get("ok"):
            kind = reply.get("kind")
            message = str(reply.get("message", ""))[:4000]
            if kind == "protocol_mismatch":
                raise ProtocolMismatch(message, what, verified=False)
            if kind == "missing_dependency" and _really_missing(message):
                raise MissingDependency(f"missing dependency {message}", what, verified=False)
            if kind == "protocol":
                raise WorkerCrash(f"protocol error: {message}")
            # Anything else, including a "not found" after the probe found the entry point,
            # is what the solution raised.
            raise SolutionError(str(reply.get("type", "Exception"))[:200], message,
                                str(reply.get("traceback", ""))[-8000:])
        stats = reply.get("stats", {})
        stats = dict(stats) if isinstance(stats, dict) else {}
        outside = reply.get("outside")
        if isinstance(reply.get("kept"), int) and isinstance(outside, dict):
            # A measured call kept its value in the worker; fetch it after the measurement.
            stats["outside_peak_bytes"] = outside["peak_bytes"]
            reply, rblobs = client.request({"op": "fetch", "handle": reply["kept"]}, [], timeout)
            if not reply.get("ok"):
                raise WorkerCrash(f"the measured call's value could not be fetched: {str(reply.get('message'))[:300]}")
        gen = self._generation
        try:
            value = wire.decode(reply.get("value"), rblobs, lambda hid, t: RemoteHandle(self, hid, t, gen))
        except wire.ProtocolError as exc:
            raise WorkerCrash(f"worker sent a malformed value: {exc}") from None
        return value, stats

    def _invoke(self, header, args, kwargs, measure_memory, timeout, handle=None) -> CallResult:
        entry = header.get("entry") or (f"{handle._type}.{header.get('name')}" if handle is not None else "")
        # A call handing the solution our objects (a model) exercises their interface too: it
        # is its own convention, proven working only by a passing test that also did so.
        event = CallEvent(entry + ("+remote" if _has_spec((args, kwargs)) else ""))
        self.events.append(event)
        try:
            if header.get("op") == "call":
                self._check_call(header["entry"], args, kwargs)
            blobs: list[bytes] = []
            header = dict(header, measure_memory=measure_memory,
                          args=wire.encode(list(args), blobs), kwargs=wire.encode(dict(kwargs), blobs))
            scale.note_inputs(blobs, (header.get("entry", header.get("name")), header["args"], header["kwargs"]))
            start = time.monotonic()
            value, stats = self._request(header, blobs, timeout, handle)
            seconds = time.monotonic() - start  # our clock, not the solution's
        except HarnessGap as exc:
            event.failure, event.verified, event.message = exc.failure, exc.verified, str(exc)
            exc.entry = event.entry
            raise
        except (SolutionError, WorkerFailure) as exc:
            event.failure, event.message = exc.failure, str(exc)
            raise
        # Figures a verdict may use come from outside the solution's process: our clock, the
        # meter's peak growth, the size of the value we decoded. tracemalloc's figures from
        # inside the worker are kept, labelled self-reported.
        outside = _stat(stats, "outside_peak_bytes")
        return CallResult(value, seconds, outside if outside is not None else _stat(stats, "peak_bytes"),
                          _stat(stats, "largest_step_bytes"), outside, _nbytes(value),
                          self_reported_peak_bytes=_stat(stats, "peak_bytes"))

    def call(self, entry: str, *args, measure_memory: bool = False, timeout: float | None = None, **kwargs) -> CallResult:
        """Call an entry point in the worker with these arguments.

        A deterministic entry point's first call in a test is made twice and the outputs compared
        (a finding when they differ, never a verdict).

        Args:
            entry: The canonical entry point's name.
            *args (object): Positional arguments.
            measure_memory: Measure the worker's memory growth from outside during the call.
            timeout: Time limit; the challenge's call timeout when None.
            **kwargs (object): Keyword arguments.

        Returns:
            The value and measurements.

        Raises:
            SolutionError: The solution raised.
            WorkerFailure: The call could not judge behaviour or the worker failed (subclasses say how).
        """
        result = self._invoke({"op": "call", "entry": entry}, args, kwargs, measure_memory, timeout)
        if entry in self._config.deterministic and not measure_memory and scale.first_call(entry):
            # Determinism probe: the same inputs again must give the identical output (a finding if not).
            again = self._invoke({"op": "call", "entry": entry}, args, kwargs, False, timeout)
            scale.note_determinism(entry, scale.identical(result.value, again.value))
        return result

    def has(self, entry: str) -> bool:
        """Whether the solution provides the entry point."""
        return bool(self.probe(entry)["found"])

    def accepts(self, entry: str, kwarg: str) -> bool:
        """Whether the entry point takes this keyword argument (from the probe's parameters)."""
        info = self.probe(entry)
        if not info["found"] or not isinstance(info.get("params"), list):
            return bool(info["found"])
        return any(p[1] == "var_keyword" or (p[0] == kwarg and p[1] != "positional_only") for p in info["params"])

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        return _Entry(self, name)


def _nbytes(value, depth: int = 0) -> int:
    """Bytes of the arrays in a decoded value (trusted: counted here, not by the worker)."""
    import numpy as np

    if depth > 20:
        return 0
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v, depth + 1) for v in value.values())
    return 0


def _has_spec(value, depth: int = 0) -> bool:
    if isinstance(value, wire.Spec):
        return True
    if depth > 8:
        return False
    if isinstance(value, (list, tuple)):
        return any(_has_spec(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_has_spec(v, depth + 1) for v in value.values())
    return False


def _stat(stats: dict, key: str):
    """A number from the worker's self-reported stats, or None (never trusted for verdicts)."""
    value = stats.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _really_missing(name: str) -> bool:
    """The worker says the solution imported a package we lack: true only if we lack it too."""
    import importlib.util

    top = name.split(".")[0]
    if not top.isidentifier():
        return False
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return True


class _Entry:
    """`solution.name`: calls the entry point; a stable repr keeps failure messages reproducible."""

    def __init__(self, proxy: SolutionProxy, name: str):
        self._proxy, self.__name__ = proxy, name

    def __call__(self, *args, **kwargs):
        return self._proxy.call(self.__name__, *args, **kwargs).value

    def __repr__(self) -> str:
        return f"solution.{self.__name__}"


def remote(cls: str, **params) -> wire.Spec:
    """A trusted helper from the challenge's support.py, built inside the worker."""
    return wire.Spec(cls, **params)
