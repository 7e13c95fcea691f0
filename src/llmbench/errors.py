"""Errors llmbench reports to a user: each names the file and what to do."""
from __future__ import annotations

from pathlib import Path


class LlmbenchError(Exception):
    """Base class for errors shown to the user as one clear message."""


class ContentError(LlmbenchError):
    """A mistake in content a contributor wrote (challenge.toml, adapter.toml, a directive).

    These fail the build: the contributor must fix the file.
    """

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class HarnessError(LlmbenchError):
    """Something went wrong in llmbench itself (never the solution's fault)."""


class ContentWarning(UserWarning):
    """Contributor content that llmbench skips (a symlinked folder or TOML file)."""


MAX_TOML_BYTES = 1 << 20  # contributor TOML files are small; a bigger one is a mistake


def skip_link(path: Path, what: str) -> bool:
    """True (and a warning naming it) when path is a symbolic link: symlinked model,
    challenge and adapter folders and TOML files are never followed (one could publish a
    folder from outside the repository, or make a read hang on /dev/zero)."""
    if not path.is_symlink():
        return False
    import warnings

    warnings.warn(f"{path}: {what} is a symbolic link; skipped (never followed). Replace it with the real "
                  f"{'folder' if what.endswith('folder') else 'file'}.", ContentWarning, stacklevel=2)
    return True


def toml_present(path: Path) -> bool:
    """Whether a contributor TOML file is there to read: False when absent or a symlink
    (warned); a folder, FIFO or device in its place is a ContentError naming it."""
    import stat

    if skip_link(path, f"{path.name}"):
        return False
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ContentError(path, f"cannot be read ({exc.strerror}); fix its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise ContentError(path, f"is a folder; {path.name} must be a TOML file: remove or rename the folder")
    if not stat.S_ISREG(st.st_mode):
        raise ContentError(path, f"is not a regular file; {path.name} must be a TOML file")
    return True


def read_toml(path: Path) -> dict:
    """A contributor-written TOML file; a syntax or encoding mistake is a ContentError naming it.

    Never follows a link or blocks on a FIFO, reads at most MAX_TOML_BYTES, and reports
    nesting too deep for the parser as a mistake rather than crashing."""
    import errno
    import os
    import stat
    import tomllib

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise ContentError(path, f"cannot be read ({why}); it must be a regular TOML file") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ContentError(path, f"is a folder; {path.name} must be a TOML file: remove or rename the folder")
        if not stat.S_ISREG(st.st_mode):
            raise ContentError(path, f"is not a regular file; {path.name} must be a TOML file")
        if st.st_size > MAX_TOML_BYTES:
            raise ContentError(path, f"is {st.st_size} bytes; a TOML file here is at most {MAX_TOML_BYTES} bytes")
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ContentError(path, f"is not valid TOML ({exc}); fix the syntax") from None
    except RecursionError:
        raise ContentError(path, "nests arrays or tables too deeply to read; flatten it") from None


def positive_number(path: Path, key: str, value) -> float:
    """A [limits] value: a finite number > 0 (not a boolean, not inf or nan)."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ContentError(path, f"limit '{key}' = {value!r}: must be a positive, finite number (e.g. {key} = 30)")
    return value
