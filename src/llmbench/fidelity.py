"""What the published study asked against what llmbench checks: data/fidelity.toml, validated.

The file is contributor content: a mistake in it (an unknown challenge, a missing field, an
unknown handling word) fails the build with a message naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ContentError, read_toml

# How the suite deals with a difference (see the header of data/fidelity.toml).
HANDLING = {
    "prompt": "judged by the study's rule",
    "beyond": "beyond the prompt: measured, never a trap",
    "api": "llmbench's calling convention: adapters translate",
    "not-checked": "asked by the study, not judged by llmbench",
}
_DIFF_KEYS = ("topic", "study", "llmbench", "why", "handling")
_CONTRA_KEYS = ("rule", "other", "follows")
_TOP_KEYS = ("prompt", "asked", "checks")


@dataclass(frozen=True)
class Difference:
    """One way llmbench's checks differ from what the study asked (``[[<challenge>.differences]]``).

    Attributes:
        topic: What the difference is about.
        study: What the study's prompt says.
        llmbench: What llmbench checks.
        why: Why they differ.
        handling: How the suite deals with it: a key of `HANDLING`.
    """
    topic: str
    study: str
    llmbench: str
    why: str
    handling: str


@dataclass(frozen=True)
class Contradiction:
    """Two rules of the study's prompt that cannot both hold.

    Attributes:
        rule: One rule of the prompt.
        other: The rule it contradicts.
        follows: Which one the suite follows, and how the other shows.
    """
    rule: str  # one rule of the study's prompt
    other: str  # the rule it contradicts
    follows: str  # which one the suite follows, and how the other shows


@dataclass(frozen=True)
class Fidelity:
    """How one challenge's checks relate to what the study asked, for the site's fidelity page.

    Attributes:
        challenge: Challenge id.
        prompt: The study's prompt files and how they differ between models.
        asked: What the study asked.
        checks: What llmbench checks.
        differences: Each way the two differ.
        contradictions: Rules of the prompt that contradict each other.
    """
    challenge: str
    prompt: str  # the study's prompt files and how they differ between models
    asked: str
    checks: str
    differences: list[Difference] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)


def _text(value, path: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContentError(path, f"{where} must be a non-empty string")
    return " ".join(value.split())


def load_fidelity(path: Path, challenges) -> dict[str, Fidelity]:
    """challenge id -> Fidelity; {} when the file does not exist.

    challenges: the known challenge ids (a table for another id is a mistake).
    """
    path = Path(path)
    if not path.is_file():
        return {}
    data = read_toml(path)
    known = set(challenges)
    out: dict[str, Fidelity] = {}
    for cid, table in data.items():
        if cid not in known:
            raise ContentError(path, f"[{cid}] is not a challenge; known: {', '.join(sorted(known))}")
        if not isinstance(table, dict):
            raise ContentError(path, f"{cid} must be a table")
        extra = set(table) - {*_TOP_KEYS, "differences", "contradictions"}
        if extra:
            raise ContentError(path, f"[{cid}] has unknown keys {sorted(extra)}")
        top = {k: _text(table.get(k), path, f"[{cid}] {k}") for k in _TOP_KEYS}
        diffs = []
        for i, d in enumerate(table.get("differences", [])):
            where = f"[[{cid}.differences]] #{i + 1}"
            if not isinstance(d, dict) or set(d) - set(_DIFF_KEYS):
                raise ContentError(path, f"{where} takes only the keys {', '.join(_DIFF_KEYS)}")
            values = {k: _text(d.get(k), path, f"{where} {k}") for k in _DIFF_KEYS}
            if values["handling"] not in HANDLING:
                raise ContentError(path, f"{where} handling '{values['handling']}' is not one of "
                                         f"{', '.join(HANDLING)}")
            diffs.append(Difference(**values))
        contras = []
        for i, c in enumerate(table.get("contradictions", [])):
            where = f"[[{cid}.contradictions]] #{i + 1}"
            if not isinstance(c, dict) or set(c) - set(_CONTRA_KEYS):
                raise ContentError(path, f"{where} takes only the keys {', '.join(_CONTRA_KEYS)}")
            contras.append(Contradiction(**{k: _text(c.get(k), path, f"{where} {k}") for k in _CONTRA_KEYS}))
        out[cid] = Fidelity(cid, top["prompt"], top["asked"], top["checks"], diffs, contras)
    return out
