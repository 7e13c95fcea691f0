"""Trusted side of the worker protocol: start a sandboxed worker, call into it, get plain data."""
from __future__ import annotations

import os
import select
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import wire
from . import scale
from ..sandbox import Limits, Sandbox, TailBuffer, describe_exit, drain, make_copy, remove_copy

STARTUP_TIMEOUT_S = 60.0


class SolutionError(Exception):
    """The solution raised an exception inside the worker."""

    def __init__(self, type_name: str, message: str, tb: str = ""):
        self.type_name, self.message, self.traceback = type_name, message, tb
        super().__init__(f"solution raised {type_name}: {message}")


class WorkerFailure(Exception):
    """The worker died or misbehaved: the test fails with this reason."""


class WorkerCrash(WorkerFailure):
    pass


class CallTimeout(WorkerFailure):
    pass


class EntryPointMissing(WorkerFailure):
    """The solution has no such entry point (maps to trap not_run, never fell_in)."""


class MissingDependency(WorkerFailure):
    """The solution imports a package the sandbox lacks (not_runnable)."""


@dataclass
class CallResult:
    value: object
    seconds: float
    peak_bytes: int | None = None
    largest_step_bytes: int | None = None
    rss_delta_bytes: int | None = None
    output_bytes: int = 0


@dataclass
class WorkerConfig:
    solution: Path
    adapter: Path | None = None
    support: Path | None = None  # folder holding the challenge's support.py
    kind: str = "python"
    mapping: dict | None = None
    call_timeout_s: float = 60.0
    memory_mb: int | None = 4096
    isolation: str = "auto"
    gpu: bool = False


class WorkerClient:
    """One sandboxed worker process on a fresh copy of the solution."""

    def __init__(self, config: WorkerConfig):
        self.config = config
        self.sandbox = Sandbox(config.isolation, gpu=config.gpu)
        self.process = None
        self.stderr = TailBuffer()
        self.copy: Path | None = None
        self.dead_reason = ""

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        self.copy = make_copy(cfg.solution)
        scratch = self.copy.parent
        ro: list[Path] = []
        argv = [sys.executable, "-m", "llmbench.worker", "--solution", str(self.copy), "--kind", cfg.kind]
        if cfg.adapter is not None and cfg.adapter.is_dir():
            adapter = scratch / "adapter"
            shutil.copytree(cfg.adapter, adapter, symlinks=True)
            os.chmod(scratch, 0o755)
            ro.append(adapter)
            argv += ["--adapter", str(adapter)]
        if cfg.support is not None and (cfg.support / "support.py").exists():
            support = scratch / "support"
            support.mkdir()
            shutil.copy2(cfg.support / "support.py", support / "support.py")
            ro.append(support)
            argv += ["--support", str(support)]
        for entry, target in (cfg.mapping or {}).items():
            argv.append(f"--map={entry}={target}")  # one token: never read as an option
        import subprocess

        limits = Limits(wall_s=10**6, cpu_s=10**6, memory_mb=None if cfg.kind == "cuda" else cfg.memory_mb)
        self.stderr = TailBuffer()
        self.process = self.sandbox.popen(argv, workdir=self.copy, limits=limits, ro=ro, python=True,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        drain(self.process.proc.stderr, self.stderr)
        header, _ = self._receive(STARTUP_TIMEOUT_S, what="start")
        if header.get("value") != "ready":
            self.stop()
            raise WorkerCrash("worker did not start: " + self.stderr.text()[-2000:])

    def stop(self) -> None:
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
            raise WorkerCrash(f"worker died during {what}: {reason}") from None
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
        if not self.alive:
            self.stop()
            self.start()
        try:
            wire.write_message(self.process.proc.stdin, header, blobs)
        except (BrokenPipeError, OSError):
            reason = self._die()
            raise WorkerCrash(f"worker died: {reason}") from None
        return self._receive(timeout or self.config.call_timeout_s, what=header.get("entry") or header.get("name") or header["op"])


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
        return self._proxy._request({"op": "attr", "handle": self._id, "name": name}, [], None, self)[0]

    def call_method(self, name: str, *args, measure_memory: bool = False, timeout: float | None = None, **kwargs):
        return self._proxy._invoke({"op": "method", "handle": self._id, "name": name}, args, kwargs,
                                   measure_memory, timeout, self)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args, **kwargs):
            return self.call_method(name, *args, **kwargs).value

        return method


class SolutionProxy:
    """The `solution` fixture: entry points of the solution, executed in the worker."""

    def __init__(self, config: WorkerConfig):
        self._config = config
        self._client = WorkerClient(config)
        self._generation = 0

    def _ensure(self) -> WorkerClient:
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
        self._client.stop()

    def _request(self, header, blobs, timeout, handle=None):
        client = self._ensure()
        if handle is not None and handle._gen != self._generation:
            raise WorkerCrash("this remote object died with an earlier worker")
        reply, rblobs = client.request(header, blobs, timeout)
        if not reply.get("ok"):
            kind = reply.get("kind")
            if kind == "not_found":
                raise EntryPointMissing(reply.get("message", ""))
            if kind == "missing_dependency":
                raise MissingDependency(f"missing dependency: {reply.get('message', '')}")
            if kind == "protocol":
                raise WorkerCrash(f"protocol error: {reply.get('message', '')}")
            raise SolutionError(str(reply.get("type", "Exception")), str(reply.get("message", "")),
                                str(reply.get("traceback", "")))
        gen = self._generation
        try:
            value = wire.decode(reply.get("value"), rblobs, lambda hid, t: RemoteHandle(self, hid, t, gen))
        except wire.ProtocolError as exc:
            raise WorkerCrash(f"worker sent a malformed value: {exc}") from None
        return value, reply.get("stats", {})

    def _invoke(self, header, args, kwargs, measure_memory, timeout, handle=None) -> CallResult:
        blobs: list[bytes] = []
        header = dict(header, measure_memory=measure_memory,
                      args=wire.encode(list(args), blobs), kwargs=wire.encode(dict(kwargs), blobs))
        scale.note_inputs(blobs, (header.get("entry", header.get("name")), header["args"], header["kwargs"]))
        value, stats = self._request(header, blobs, timeout, handle)
        return CallResult(value, float(stats.get("seconds", 0.0)), stats.get("peak_bytes"),
                          stats.get("largest_step_bytes"), stats.get("rss_delta_bytes"), int(stats.get("output_bytes", 0)))

    def call(self, entry: str, *args, measure_memory: bool = False, timeout: float | None = None, **kwargs) -> CallResult:
        return self._invoke({"op": "call", "entry": entry}, args, kwargs, measure_memory, timeout)

    def has(self, entry: str) -> bool:
        return bool(self._request({"op": "has", "entry": entry}, [], None)[0])

    def accepts(self, entry: str, kwarg: str) -> bool:
        return bool(self._request({"op": "accepts", "entry": entry, "kwarg": kwarg}, [], None)[0])

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        return _Entry(self, name)


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
