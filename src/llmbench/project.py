"""Where things live in an llmbench repository."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import LlmbenchError


@dataclass(frozen=True)
class Project:
    """An llmbench repository: the folder holding challenges/, solutions/, adapters/ and results/."""
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> "Project":
        """The nearest folder upwards holding challenges/ (or LLMBENCH_ROOT).

        Raises:
            LlmbenchError: No such folder at or above `start` (the working directory by default).
        """
        import os

        env = os.environ.get("LLMBENCH_ROOT")
        if env:
            return cls(Path(env).resolve())
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "challenges").is_dir() and (folder / "pyproject.toml").exists():
                return cls(folder)
        for folder in (here, *here.parents):
            if (folder / "challenges").is_dir():
                return cls(folder)
        raise LlmbenchError(
            f"no llmbench repository found at or above {here}: run from a folder holding "
            "challenges/, or set LLMBENCH_ROOT"
        )

    @property
    def challenges_dir(self) -> Path:
        """challenges/: one folder per challenge."""
        return self.root / "challenges"

    @property
    def solutions_dir(self) -> Path:
        """solutions/: the models' raw outputs."""
        return self.root / "solutions"

    @property
    def adapters_dir(self) -> Path:
        """adapters/: our glue from each solution to the canonical API."""
        return self.root / "adapters"

    @property
    def results_dir(self) -> Path:
        """results/: one result file per solution and control."""
        return self.root / "results"

    @property
    def state_dir(self) -> Path:
        """Scratch state (lock file, build copies); ignored by git."""
        return self.root / ".llmbench"
