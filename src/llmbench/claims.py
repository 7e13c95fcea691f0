"""The study's claims as data (data/claims.toml) and their verdicts, computed from results.

A contributor writes a claim (source, model, challenge, a paraphrase) and the evidence that
decides it; nobody types a verdict. `resolve` is pure: a claim and a result in, a verdict out
(confirmed, contradicted, undecided with the reason, or not checkable by running code).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import ContentError, read_toml
from .schema import Result

CLAIMS_FILE = Path("data") / "claims.toml"

KINDS = {
    "correctness": "correctness",
    "trap_fallen": "trap fallen into",
    "trap_avoided": "trap avoided",
    "figure": "figure",
    "test_count": "test count",
    "performance": "performance",
    "not_checkable": "not checkable",
}
DECIDERS = ("trap", "metric", "own_tests", "compile", "conformance", "none")
# "~": within a relative tolerance (default 25 %); "order": same order of magnitude (within 10x either way)
OPS = ("<", "<=", ">", ">=", "==", "~", "order")
VERDICTS = ("confirmed", "contradicted", "undecided", "not_checkable")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SOURCE = re.compile(r"^[A-Za-z0-9._/-]+\.md$")


@dataclass(frozen=True)
class Decider:
    """How a claim is decided from a result (``decider`` in data/claims.toml).

    Attributes:
        kind: One of `DECIDERS`.
        target: Trap id, metric name, or own-tests mode (``pass``, ``fail``, ``count``, ...).
        expected: trap: ``avoided``/``fell_in``; compile: ``ok``/``failed``; conformance: ``pass``/``fail``.
        op: Comparison for numbers, one of `OPS`.
        value: The number compared against.
        tolerance: Relative tolerance of ``~``.
        note: kind ``none``: why running code cannot decide it.
    """
    kind: str  # one of DECIDERS
    target: str = ""  # trap id, metric name, own_tests mode ("pass", "fail", "count")
    expected: str = ""  # trap: avoided|fell_in; compile: ok|failed; conformance: pass|fail
    op: str = ""
    value: float | None = None
    tolerance: float = 0.25
    note: str = ""  # none: why running code cannot decide it

    def describe(self) -> str:
        """What the decider checks, in words, e.g. ``"trap mask_leak: avoided"``."""
        if self.kind == "trap":
            return f"trap {self.target}: {self.expected.replace('_', ' ')}"
        if self.kind == "metric":
            if self.op == "order":
                return f"{self.target} within 10x of {self.value:g}"
            extra = f" (±{self.tolerance:.0%})" if self.op == "~" else ""
            return f"{self.target} {self.op} {self.value:g}{extra}"
        if self.kind == "own_tests":
            if self.target in ("pass", "fail"):
                return f"own tests {self.target}"
            what = "own tests collected" if self.target == "count" else "assertions in the own tests"
            return f"{what} {self.op} {self.value:g}"
        if self.kind == "compile":
            return f"compile: {self.expected}"
        if self.kind == "conformance":
            return "conformance: every prompt-tier test passes" if self.expected == "pass" \
                else "conformance: a prompt-tier test fails or a trap is fallen into"
        return "not checkable by running code" + (f": {self.note}" if self.note else "")


@dataclass(frozen=True)
class Claim:
    """A claim someone made about a solution (an analysis in the study), and how to check it.

    Attributes:
        id: Unique id.
        source: Path in the study repository, e.g. ``analysis/dflash-analysis.md``.
        line: Line of the claim in that file at the study's pinned commit.
        model: Model id.
        challenge: Challenge id.
        kind: What sort of claim it is, a key of `KINDS`.
        claim: One-line paraphrase, in our words.
        decider: How a result decides it.
        contradicts: Ids of claims it contradicts.
        toml_line: Where the entry starts in data/claims.toml.
    """
    id: str
    source: str  # path in the study repository, e.g. analysis/dflash-analysis.md
    line: int  # line of the claim in that file at the study's pinned commit
    model: str
    challenge: str
    kind: str
    claim: str  # one-line paraphrase, our words
    decider: Decider
    contradicts: tuple[str, ...] = ()
    toml_line: int = 0  # where the entry starts in data/claims.toml

    def source_url(self, repo: str, commit: str) -> str:
        """Link to the claim's line in the study repository, pinned to `commit` (to HEAD without one)."""
        base = repo.rstrip("/")
        return f"{base}/blob/{commit}/{self.source}#L{self.line}" if commit else f"{base}/blob/HEAD/{self.source}"


@dataclass(frozen=True)
class Verdict:
    """What a result says of a claim.

    Attributes:
        state: One of `VERDICTS`.
        why: undecided: a short reason (not run, no GPU, no adapter, ...); else empty.
        evidence: What the run showed, in a sentence.
    """
    state: str  # one of VERDICTS
    why: str = ""  # undecided: short reason (not run, no GPU, no adapter, ...); else ''
    evidence: str = ""  # what the run showed, in a sentence


@dataclass(frozen=True)
class ChallengeNames:
    """What a claim about a challenge may name: its traps and metrics."""

    traps: frozenset[str] = frozenset()
    metrics: frozenset[str] = frozenset()


@dataclass
class Claims:
    """The claims of data/claims.toml, validated.

    Attributes:
        path: The file.
        items: The claims recorded, in file order.
        read: How many claims were read in the study (at least as many as recorded).
    """
    path: Path
    items: list[Claim] = field(default_factory=list)
    read: int = 0  # claims recorded (checkable and not)

    def by_id(self) -> dict[str, Claim]:
        """The claims by id."""
        return {c.id: c for c in self.items}

    def about(self, model: str, challenge: str) -> list[Claim]:
        """The claims about one model's solution of one challenge."""
        return [c for c in self.items if c.model == model and c.challenge == challenge]

    def pairs(self) -> list[tuple[Claim, Claim]]:
        """Contradicting pairs, each once, in file order."""
        ids = self.by_id()
        seen, out = set(), []
        for c in self.items:
            for other in c.contradicts:
                key = tuple(sorted((c.id, other)))
                if key not in seen:
                    seen.add(key)
                    out.append((c, ids[other]))
        return out


# ---- loading -------------------------------------------------------------------------------

def _entry_lines(text: str) -> list[int]:
    """Line numbers of every [[claims]] header, in order (tomllib keeps no positions)."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if re.match(r"\s*\[\[\s*claims\s*\]\]", line)]


def _key_line(text: str, start: int, key: str) -> int:
    """The line of `key =` inside the entry starting at line start (or start itself)."""
    lines = text.splitlines()
    for n in range(start, len(lines)):
        line = lines[n]
        if n > start and re.match(r"\s*\[", line):
            break
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return n + 1
    return start


def load_claims(path: Path, models: set[str] | list[str], challenges: Mapping[str, ChallengeNames]) -> Claims | None:
    """The claims file, validated; None when it does not exist.

    Args:
        path: data/claims.toml.
        models: Valid model ids.
        challenges: Challenge id -> the trap and metric names a claim may name.

    Raises:
        ContentError: Any mistake, naming the file and the line of the entry.
    """
    if not path.exists():
        return None
    data = read_toml(path)  # the one reader of contributor TOML (no links, size-capped)
    text = path.read_text(encoding="utf-8")  # only to point at the line of a mistake
    unknown_top = sorted(set(data) - {"claims", "read"})
    if unknown_top:
        raise ContentError(path, f"unknown top-level key(s) {', '.join(unknown_top)}; "
                                 "write each claim as a [[claims]] table")
    entries = data.get("claims", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ContentError(path, "'claims' must be an array of tables ([[claims]])")
    starts = _entry_lines(text)
    if len(starts) != len(entries):  # inline arrays: fall back to no line numbers
        starts = [0] * len(entries)
    valid_models = sorted(models)
    out: list[Claim] = []
    for entry, start in zip(entries, starts):
        out.append(_claim(path, text, entry, start, valid_models, challenges))
    ids, seen = [c.id for c in out], set()
    for c in out:
        if c.id in seen:
            raise ContentError(path, f"duplicate claim id '{c.id}'; ids must be unique", c.toml_line or None)
        seen.add(c.id)
    known = set(ids)
    by_id = {c.id: c for c in out}
    # A contradiction is mutual: record it on both sides so each shows its partner.
    links: dict[str, set[str]] = {c.id: set(c.contradicts) for c in out}
    for c in out:
        for other in c.contradicts:
            if other not in known:
                raise ContentError(path, f"claim '{c.id}': contradicts unknown claim '{other}'",
                                   _key_line(text, c.toml_line - 1, "contradicts") if c.toml_line else None)
            if other == c.id:
                raise ContentError(path, f"claim '{c.id}' cannot contradict itself",
                                   _key_line(text, c.toml_line - 1, "contradicts") if c.toml_line else None)
            links[other].add(c.id)
    out = [_with_links(by_id[i], links[i], ids) for i in ids]
    read = data.get("read", len(out))
    if not isinstance(read, int) or isinstance(read, bool) or read < len(out):
        raise ContentError(path, f"'read' must be an integer of at least {len(out)} (the claims recorded here)")
    return Claims(path, out, read)


def _with_links(c: Claim, links: set[str], order: list[str]) -> Claim:
    ordered = tuple(i for i in order if i in links)
    return Claim(c.id, c.source, c.line, c.model, c.challenge, c.kind, c.claim, c.decider, ordered, c.toml_line)


def _claim(path: Path, text: str, e: dict, start: int, models: list[str],
           challenges: Mapping[str, ChallengeNames]) -> Claim:
    line0 = max(start - 1, 0)

    def fail(message: str, key: str | None = None):
        where = (_key_line(text, line0, key) if key else start) if start else None
        label = f"claim '{e.get('id')}'" if isinstance(e.get("id"), str) else "a [[claims]] entry"
        raise ContentError(path, f"{label}: {message}", where)

    allowed = {"id", "source", "line", "model", "challenge", "kind", "claim", "decider", "contradicts"}
    extra = sorted(set(e) - allowed)
    if extra:
        fail(f"unknown key(s) {', '.join(extra)}; valid keys: {', '.join(sorted(allowed))}", extra[0])
    for key in ("id", "source", "model", "challenge", "kind", "claim"):
        if not isinstance(e.get(key), str) or not e[key].strip():
            fail(f"needs a non-empty '{key}' string", key if key in e else None)
    if not _ID.match(e["id"]):
        fail("id must be lower-case letters, digits, '.', '_' or '-'", "id")
    if not _SOURCE.match(e["source"]) or ".." in e["source"].split("/"):
        fail(f"source '{e['source']}' must be a .md path inside the study repository "
             "(e.g. analysis/dflash-analysis.md)", "source")
    if not isinstance(e.get("line"), int) or isinstance(e.get("line"), bool) or e["line"] < 1:
        fail("needs 'line', the line number of the claim in its source file (an integer >= 1)", "line")
    if e["model"] not in models:
        fail(f"unknown model '{e['model']}'; valid models: {', '.join(models)}", "model")
    if e["challenge"] not in challenges:
        fail(f"unknown challenge '{e['challenge']}'; valid challenges: {', '.join(sorted(challenges))}", "challenge")
    if e["kind"] not in KINDS:
        fail(f"unknown kind '{e['kind']}'; valid kinds: {', '.join(KINDS)}", "kind")
    if "\n" in e["claim"] or len(e["claim"]) > 300:
        fail("claim must be one line of at most 300 characters (a paraphrase, not a quote)", "claim")
    contradicts = e.get("contradicts", [])
    if isinstance(contradicts, str):
        contradicts = [contradicts]
    if not isinstance(contradicts, list) or not all(isinstance(x, str) for x in contradicts):
        fail("contradicts must be a claim id or a list of claim ids", "contradicts")
    decider = _decider(e.get("decider"), e["challenge"], challenges[e["challenge"]], lambda m: fail(m, "decider"))
    if e["kind"] == "not_checkable" and decider.kind != "none":
        fail("kind 'not_checkable' needs decider = { none = \"why running code cannot decide it\" }", "kind")
    return Claim(e["id"], e["source"], e["line"], e["model"], e["challenge"], e["kind"], e["claim"].strip(),
                 decider, tuple(contradicts), start)


def _decider(d, cid: str, names: ChallengeNames, fail) -> Decider:
    if not isinstance(d, dict):
        fail("needs a decider table, e.g. decider = { trap = \"<trap id>\", expected = \"fell_in\" }; "
             f"decider kinds: {', '.join(DECIDERS)}")
    kinds = [k for k in d if k in DECIDERS]
    if len(kinds) != 1:
        fail(f"decider must name exactly one kind of evidence, got {', '.join(sorted(d)) or 'none'}; "
             f"decider kinds: {', '.join(DECIDERS)}")
    kind = kinds[0]
    allowed = {"trap": {"expected"}, "metric": {"op", "value", "tolerance"}, "own_tests": {"op", "value"},
               "compile": set(), "conformance": set(), "none": set()}[kind]
    extra = sorted(set(d) - {kind} - allowed)
    if extra:
        fail(f"unknown key(s) {', '.join(extra)} in a '{kind}' decider; valid: {', '.join(sorted(allowed)) or '(none)'}")
    target = d[kind]
    if not isinstance(target, str):
        fail(f"decider {kind} must be a string")
    if kind == "trap":
        if target not in names.traps:
            fail(f"unknown trap '{target}' for challenge '{cid}'; valid traps: {', '.join(sorted(names.traps)) or '(none)'}")
        if d.get("expected") not in ("avoided", "fell_in"):
            fail("a trap decider needs expected = \"avoided\" or \"fell_in\"")
        return Decider("trap", target, d["expected"])
    if kind == "compile":
        if target not in ("ok", "failed"):
            fail("decider compile must be \"ok\" or \"failed\"")
        return Decider("compile", expected=target)
    if kind == "conformance":
        if target not in ("pass", "fail"):
            fail("decider conformance must be \"pass\" or \"fail\"")
        return Decider("conformance", expected=target)
    if kind == "none":
        return Decider("none", note=target.strip())
    op, value = d.get("op"), d.get("value")
    if kind == "own_tests":
        if target in ("pass", "fail"):
            if op is not None or value is not None:
                fail(f"own_tests = \"{target}\" takes no op or value")
            return Decider("own_tests", target)
        if target not in ("count", "asserts"):
            fail("decider own_tests must be \"pass\", \"fail\", \"count\" or \"asserts\" (the last two with op and value)")
    elif target not in names.metrics:
        fail(f"unknown metric '{target}' for challenge '{cid}'; valid metrics: {', '.join(sorted(names.metrics)) or '(none)'}")
    if op not in OPS:
        fail(f"a {kind} decider needs op, one of {', '.join(OPS)}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        fail(f"a {kind} decider needs a numeric value")
    tolerance = d.get("tolerance", 0.25)
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not 0 < tolerance < 10:
        fail("tolerance must be a relative number between 0 and 10 (0.25 = within 25 %)")
    if op != "~" and "tolerance" in d:
        fail("tolerance only goes with op = \"~\"")
    return Decider(kind, target, op=op, value=float(value), tolerance=float(tolerance))


def challenge_names(specs: Mapping) -> dict[str, ChallengeNames]:
    """ChallengeNames from challenge specs (objects with .traps and .metrics), or empty for a spec of None."""
    out = {}
    for cid, spec in specs.items():
        if spec is None:
            out[cid] = ChallengeNames()
        else:
            out[cid] = ChallengeNames(frozenset(t.id for t in spec.traps), frozenset(m.name for m in spec.metrics))
    return out


# ---- resolving -----------------------------------------------------------------------------

_WHY = (
    (re.compile(r"\bdo(es)? not compile\b", re.I), "does not compile"),
    (re.compile(r"not offered", re.I), "not offered by its API"),
    (re.compile(r"\b(gpu|cuda|nvidia|nvcc|device)\b", re.I), "no GPU"),
    (re.compile(r"\badapter\b", re.I), "no adapter"),
    (re.compile(r"no module named|not installed|dependenc|\bmlx\b|import", re.I), "dependency missing"),
    (re.compile(r"time(d)? ?out|exceeded", re.I), "timed out"),
)


def _classify(text: str, default: str = "no result") -> str:
    for pattern, label in _WHY:
        if pattern.search(text or ""):
            return label
    return default


def _undecided(why: str, detail: str) -> Verdict:
    return Verdict("undecided", why, " ".join(detail.split())[:300])


def _failing(tests) -> list[str]:
    # Only prompt-tier tests decide (tests "beyond the prompt" never make a claim wrong).
    return [t.name for t in tests if t.outcome in ("failed", "error", "timeout")
            and getattr(t, "tier", "prompt") in ("prompt", None)]


def _compare(value: float, op: str, target: float, tolerance: float) -> bool:
    if op == "<":
        return value < target
    if op == "<=":
        return value <= target
    if op == ">":
        return value > target
    if op == ">=":
        return value >= target
    if op == "==":
        return value == target
    if op == "order":
        return value > 0 and target > 0 and target / 10 <= value <= target * 10
    return abs(value - target) <= tolerance * abs(target)


def _decided(ok: bool, evidence: str) -> Verdict:
    return Verdict("confirmed" if ok else "contradicted", "", evidence)


def resolve(claim: Claim, result: Result | None) -> Verdict:
    """The verdict on one claim from the result of its (model, challenge); pure."""
    d = claim.decider
    if d.kind == "none":
        return Verdict("not_checkable", "not checkable", d.note)
    if result is None:
        return _undecided("not run", "no result: the solution is not imported or not run yet")
    if result.status == "harness_error":
        return _undecided("harness error", result.reason or "llmbench failed to run it (our fault)")
    if d.kind == "trap":
        v = result.traps.get(d.target)
        if v is None:
            why = _classify(result.reason, "not run") if result.status != "ok" else "no result"
            return _undecided(why, f"no verdict for trap {d.target}" + (f": {result.reason}" if result.reason else ""))
        if v.status == "not_run":
            reason = v.reason or result.reason
            return _undecided(_classify(reason, "no result"), f"trap {d.target} not run" + (f": {reason}" if reason else ""))
        tests = f" ({', '.join(v.tests[:3])})" if v.tests else ""
        said = "fell into" if v.status == "fell_in" else "avoided"
        return _decided(v.status == d.expected, f"the run {said} trap {d.target}{tests}"
                        + (f": {v.reason}" if v.reason else ""))
    if d.kind == "metric":
        m = result.metrics.get(d.target)
        if m is None:
            why = _classify(result.reason, "no result") if result.status != "ok" else "no result"
            return _undecided(why, f"{d.target} not measured" + (f": {result.reason}" if result.reason else ""))
        shown = f"{m.value:.3g}{(' ' + m.unit) if m.unit else ''}"
        return _decided(_compare(m.value, d.op, d.value, d.tolerance), f"measured {d.target} = {shown}")
    phase_name = {"own_tests": "own_tests", "compile": "compile", "conformance": "conformance"}[d.kind]
    phase = result.phases.get(phase_name)
    if phase is None:
        why = _classify(result.reason, "not run") if result.status != "ok" else "no result"
        return _undecided(why, f"no {phase_name.replace('_', ' ')} phase in the result"
                          + (f": {result.reason}" if result.reason else ""))
    if phase.status not in ("ok", "failed", "timeout", "not_runnable"):
        # not_run, harness_error and any newer "our gap" status (needs_adapter, ...) decide nothing.
        text = f"{phase.status.replace('_', ' ')} {phase.reason}"
        return _undecided(_classify(text, phase.status.replace("_", " ")), f"{phase_name.replace('_', ' ')} "
                          f"{phase.status.replace('_', ' ')}" + (f": {phase.reason}" if phase.reason else ""))
    if phase.status in ("not_run", "harness_error"):
        return _undecided(_classify(phase.reason, "not run"), f"{phase_name.replace('_', ' ')} not run"
                          + (f": {phase.reason}" if phase.reason else ""))
    if d.kind == "compile":
        compiled = phase.status == "ok"
        detail = "it compiled" if compiled else f"it does not compile: {phase.reason or phase.status}"
        return _decided(compiled == (d.expected == "ok"), detail)
    if d.kind == "own_tests":
        if phase.status == "not_runnable":
            return _undecided(_classify(phase.reason, "not run"), f"own tests could not run: {phase.reason}")
        if d.target == "asserts":
            if phase.tests and not any("::" in t.name for t in phase.tests):
                # A script's count covers the whole file, library input checks included.
                return _undecided("not countable", "own tests are scripts run whole: their assertion count "
                                                   "includes the library code's own checks")
            counted = phase.counts.get("asserts")
            if counted is None:
                known = [t.asserts for t in phase.tests if t.asserts is not None]
                counted = sum(known) if known else None
            if counted is None:
                return _undecided("no result", "nobody counted the assertions of the own tests")
            return _decided(_compare(counted, d.op, d.value, 0.0), f"{counted} assertion(s) found in the own tests")
        if d.target == "count":
            ran = [t for t in phase.tests if t.outcome != "not_run"]
            if not any("::" in t.name for t in ran):
                # Scripts run as one test each: the subtests a study counted inside them are invisible here.
                return _undecided("not countable", f"own tests are {len(ran)} script(s) run whole, not "
                                                   "test functions: their subtests cannot be counted")
            n = sum(1 for t in ran if "::" in t.name)
            return _decided(_compare(n, d.op, d.value, 0.0), f"{n} own test function(s) collected ({phase.status})")
        failed = _failing(phase.tests)
        if phase.status == "timeout" and not any(t.outcome in ("failed", "error") for t in phase.tests):
            # Running out of our time limit is not behavioural evidence either way.
            return _undecided("timed out", f"own tests did not finish in time ({phase.reason or 'timeout'})")
        passed = phase.status == "ok" and not failed
        detail = "own tests pass" if passed else (
            f"own tests {phase.status}" + (f": {', '.join(failed[:3])}" if failed else f" ({phase.reason})" if phase.reason else ""))
        return _decided(passed == (d.target == "pass"), detail)
    # conformance
    fell = sorted(t for t, v in result.traps.items() if v.status == "fell_in")
    failed = _failing(phase.tests)
    if phase.status == "not_runnable":
        return _undecided(_classify(phase.reason or result.reason, "not run"),
                          f"conformance could not run: {phase.reason or result.reason}")
    if phase.status == "timeout" and not failed:
        return _undecided("timed out", f"conformance timed out: {phase.reason}")
    if not phase.tests and phase.status == "ok":
        return _undecided("no result", "conformance ran no test")
    ok = not failed and not fell and phase.status == "ok"
    if ok:
        detail = f"all {len(phase.tests)} conformance tests pass, no trap fallen into"
    else:
        parts = []
        if failed:
            parts.append(f"{len(failed)} conformance test(s) fail ({', '.join(failed[:3])})")
        if fell:
            parts.append(f"falls into {', '.join(fell)}")
        detail = "; ".join(parts) or f"conformance {phase.status}"
    return _decided(ok == (d.expected == "pass"), detail)


def resolve_all(claims: Claims, result_of) -> dict[str, Verdict]:
    """claim id -> verdict; result_of(model, challenge) gives the Result or None."""
    return {c.id: resolve(c, result_of(c.model, c.challenge)) for c in claims.items}


# Order for "strongest" contradicted claims: behaviour first, figures and style last.
_STRENGTH = {"trap_fallen": 0, "trap_avoided": 0, "correctness": 1, "test_count": 2, "figure": 3,
             "performance": 4, "not_checkable": 5}


def strongest(claims: Claims, verdicts: Mapping[str, Verdict], state: str = "contradicted",
              grade_points=None) -> list[Claim]:
    """Claims with the given verdict, strongest first: behavioural kinds, then (optionally) the
    judge's grade of the solution, highest first, then file order."""
    chosen = [c for c in claims.items if verdicts[c.id].state == state]
    order = {c.id: i for i, c in enumerate(claims.items)}

    def key(c: Claim):
        points = grade_points(c.model, c.challenge) if grade_points else None
        return (_STRENGTH.get(c.kind, 9), -(points or 0.0), order[c.id])

    return sorted(chosen, key=key)


def counts(verdicts: Mapping[str, Verdict]) -> dict[str, int]:
    """How many verdicts are in each state, every state of `VERDICTS` present."""
    out = {v: 0 for v in VERDICTS}
    for v in verdicts.values():
        out[v.state] += 1
    return out
