"""The fallback mode's means (no bubblewrap): a leased unprivileged uid per run, an empty network
namespace as root, the parent-death signal, and counting the user's processes for RLIMIT_NPROC."""
from __future__ import annotations

import fcntl
import functools
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

FALLBACK_UID_BASE = 61000  # fallback mode: one uid per concurrent run, so cleanup is exact
FALLBACK_UID_COUNT = 2000
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")  # fallback: swept for the leased uid's files


class UidLease:
    """Fallback mode as root: a uid of our pool that no other concurrent run uses."""

    def __init__(self):
        lock_dir = Path(tempfile.gettempdir()) / "llmbench-uids"
        lock_dir.mkdir(exist_ok=True, mode=0o700)
        start = (os.getpid() * 7) % FALLBACK_UID_COUNT
        for i in range(FALLBACK_UID_COUNT):
            uid = FALLBACK_UID_BASE + (start + i) % FALLBACK_UID_COUNT
            fh = open(lock_dir / str(uid), "w")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                continue
            self.uid, self._fh = uid, fh
            # A holder that was SIGKILLed (its trusted process killed) could not clean up:
            # its daemons must not share this run's uid.
            self.kill_all()
            return
        raise RuntimeError("no free sandbox uid")

    def kill_all(self) -> None:
        """Kill every process of the leased uid: daemons that left the process group too."""
        for _ in range(50):
            found = False
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if entry.stat().st_uid != self.uid:
                        continue
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
                except (OSError, ProcessLookupError):
                    continue
            if not found:
                return
            time.sleep(0.02)

    def remove_files(self) -> None:
        """Delete what the uid left at the top of world-writable temp folders: the copy is
        its only writable place by design, but /tmp and /dev/shm are writable by anyone.
        Runs after kill_all, so nothing of that uid can race the removal."""
        for base in sorted({tempfile.gettempdir(), *WORLD_WRITABLE}):
            try:
                entries = list(os.scandir(base))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid != self.uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)  # never follows links
                    else:
                        os.unlink(entry.path)
                except OSError:
                    continue

    def release(self) -> None:
        """End the lease: kill the uid's processes, remove its temp files, and free the uid."""
        self.kill_all()
        self.remove_files()
        self._fh.close()


CLONE_NEWNET = 0x40000000


def unshare_network() -> None:
    """Move the calling process into a new, empty network namespace (loopback down)."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")


@functools.lru_cache(maxsize=1)
def network_namespace_available() -> bool:
    """Can this (root) process give a child its own network namespace? Probed once in a fork."""
    if os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            unshare_network()
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def set_parent_death_signal() -> None:
    """Die with the parent (Linux): no sandboxed process outlives the harness."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def count_own_processes() -> int:
    """Processes of the calling user (RLIMIT_NPROC counts them all, not only the sandbox's)."""
    uid = os.getuid()
    n = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                n += 1
        except OSError:
            pass
    return n
