"""results/: one JSON file per solution, written atomically; controls under results/_controls/."""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

from pydantic import ValidationError

from .schema import Result

CONTROLS = "_controls"


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file.

    Args:
        path: The file.
        text: Its content.
        durable: Sync the data to disk before the rename (a result must survive a crash;
            a cache entry lost in one is only made again).

    Raises:
        OSError: The folder cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def result_json(result: Result) -> str:
    """The result as JSON. A solution can smuggle lone surrogates into it (an undecodable
    file name, an exception message): those become '?' instead of failing the whole run."""
    try:
        return result.model_dump_json(indent=1)
    except ValueError:  # pydantic's PydanticSerializationError: "surrogates not allowed"
        text = json.dumps(result.model_dump(mode="json"), indent=1, ensure_ascii=False)
        return text.encode("utf-8", "replace").decode("utf-8")


class ResultStore:
    """The results/ folder: one JSON file per solution, controls under results/_controls/<challenge>/.

    Files are written atomically; an unreadable file reads as missing, so its run is redone.
    """
    def __init__(self, results_dir: Path):
        self.dir = results_dir

    def path_for(self, model: str, challenge: str, run_kind: str = "solution", trap: str | None = None) -> Path:
        """Where a run's result lives.

        Args:
            model: Model id (ignored for controls).
            challenge: Challenge id.
            run_kind: ``"solution"``, ``"reference"``, ``"mutant"`` or ``"cheat"``.
            trap: The mutant's trap id or the cheat's name.

        Returns:
            ``<model>/<challenge>.json`` for a solution, else
            ``_controls/<challenge>/{reference,mutant-<trap>,cheat-<name>}.json``.
        """
        if run_kind == "solution":
            return self.dir / model / f"{challenge}.json"
        name = {"reference": "reference", "cheat": f"cheat-{trap}"}.get(run_kind, f"mutant-{trap}")
        return self.dir / CONTROLS / challenge / f"{name}.json"

    def write(self, result: Result) -> Path:
        """Write a result atomically where `path_for` puts it, and return that path."""
        path = self.path_for(result.model, result.challenge, result.run_kind,
                             result.cheat if result.run_kind == "cheat" else result.mutant_trap)
        write_atomic(path, result_json(result) + "\n")
        return path

    def read(self, path: Path) -> Result | None:
        """A result, or None (with a warning) when the file is missing, truncated or corrupt."""
        if not path.exists():
            return None
        try:
            return Result.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError, UnicodeDecodeError, OSError) as exc:  # OSError: unreadable, a folder
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.warn(f"{path}: unreadable result ({first}); treated as missing and will be re-run", stacklevel=2)
            return None

    def solutions(self) -> dict[tuple[str, str], Result]:
        """Every readable solution result, by ``(model, challenge)``."""
        out = {}
        if not self.dir.is_dir():
            return out
        for path in sorted(self.dir.glob("*/*.json")):
            if path.parent.name == CONTROLS:
                continue
            result = self.read(path)
            if result is not None:
                out[(result.model, result.challenge)] = result
        return out

    def controls(self) -> dict[str, dict[str, Result]]:
        """challenge -> {"reference": Result, "mutant-<trap>": Result, "cheat-<name>": Result}."""
        out: dict[str, dict[str, Result]] = {}
        for path in sorted((self.dir / CONTROLS).glob("*/*.json")):
            result = self.read(path)
            if result is not None:
                out.setdefault(path.parent.name, {})[path.stem] = result
        return out

    def all_paths(self) -> list[Path]:
        """Every result file, solutions and controls, sorted."""
        return sorted(self.dir.rglob("*.json")) if self.dir.is_dir() else []

