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


def read_toml(path: Path) -> dict:
    """A contributor-written TOML file; a syntax or encoding mistake is a ContentError naming it."""
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ContentError(path, f"is not valid TOML ({exc}); fix the syntax") from None
