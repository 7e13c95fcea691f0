"""A synthetic llmbench repository exercising every page type, cell state and directive.

Models synthetic-a ... synthetic-g only ever exist inside a test's temporary folder.

  synthetic-a  alpha: ok, every trap avoided; notes, session log, odd file name
               beta: result file corrupt (unreadable)
  synthetic-b  alpha: failed, fell into t_one, t_three not run; beta: stale result (old suite)
  synthetic-c  alpha: timeout
  synthetic-d  alpha: not_runnable, legacy reason naming a dependency we do not install (our gap)
               beta: not_runnable, legacy reason naming a missing adapter mapping (our gap), graded A-
  synthetic-e  alpha: harness_error
  synthetic-f  alpha: solution present, no result yet
  synthetic-g  graded in the study, no solution in the repository
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from llmbench.schema import (
    AdapterInfo, Metric, PhaseResult, Provenance, Reported, Result, TestRecord, TrapVerdict,
)
from llmbench.store import ResultStore

MODELS = [f"synthetic-{c}" for c in "abcdefg"]
TRAP_TITLES = {"t_one": "Rescale factor upside down", "t_two": "Padding leaks into attention",
               "t_three": "Fully masked first tile", "b_trap": "Warps mix rows"}
MALICIOUS_NOTE = textwrap.dedent("""\
    # My final notes

    <script>alert("owned")</script>
    See [my other file](missing_page.md) and ![plot](plot.png) and [web](https://example.com/x).
    <!-- live: nonsense-directive -->
    <!-- /live -->
    """)


def _prov(suite: str = "1", date: str = "2026-04-20T10:00:00Z") -> Provenance:
    return Provenance(llmbench_version="0.1.0", harness_version="1", suite_version=suite, commit="abc1234",
                      date=date, python="3.11.9", numpy="2.4.6", cpu="Synthetic CPU", isolation="bwrap")


def result(model: str, challenge: str, status: str, *, traps: dict | None = None, metrics: dict | None = None,
           own: PhaseResult | None = None, conformance: PhaseResult | None = None, reason: str = "",
           suite: str = "1", run_kind: str = "solution", mutant_trap: str | None = None,
           reported: dict | None = None, adapter: AdapterInfo | None = None) -> Result:
    phases = {}
    if own is not None:
        phases["own_tests"] = own
    if conformance is not None:
        phases["conformance"] = conformance
    return Result(
        model=model, challenge=challenge, run_kind=run_kind, mutant_trap=mutant_trap, status=status, reason=reason,
        phases=phases, traps={k: TrapVerdict(status=v[0], reason=v[1] if len(v) > 1 else "", tests=list(v[2:]))
                              for k, v in (traps or {}).items()},
        metrics={k: Metric(value=v, unit="GB/s" if k == "speed" else "", better="lower" if k == "err" else "higher")
                 for k, v in (metrics or {}).items()},
        reported=reported or {}, loc=42, adapter=adapter or AdapterInfo(), provenance=_prov(suite),
        key=f"key-{model}-{challenge}-{run_kind}-{mutant_trap}", duration_s=3.5,
    )


def _phase(name: str, outcomes: list[tuple[str, str, str | None, str]], status: str = "ok", reason: str = "",
           log: str = "") -> PhaseResult:
    tests = [TestRecord(name=n, outcome=o, trap=t, message=msg, duration_s=0.25,
                        asserts=2 if name == "own_tests" else None) for n, o, t, msg in outcomes]
    return PhaseResult(name=name, status=status, reason=reason, tests=tests, log_tail=log)


CHALLENGE_ALPHA = textwrap.dedent("""\
    id = "alpha"
    title = "Alpha Attention"
    difficulty = "Hard"
    kind = "python"
    summary = "Tiled attention with an online softmax."
    suite_version = "1"

    [[entry_points]]
    name = "attend"
    signature = "attend(Q, K, V) -> O"

    [[traps]]
    id = "t_one"
    title = "Rescale factor upside down"
    description = "Uses exp(m_new - m) instead of exp(m - m_new)."
    detection = "A row whose running max rises."

    [[traps]]
    id = "t_two"
    title = "Padding leaks into attention"
    description = "Padded keys get weight."
    detection = "Left-padded batch."

    [[traps]]
    id = "t_three"
    title = "Fully masked first tile"
    description = "NaN from exp(-inf - -inf)."
    detection = "key_padding_mask with an empty first tile."

    [[metrics]]
    name = "err"
    better = "lower"
    description = "max relative error"

    [[metrics]]
    name = "speed"
    unit = "GB/s"
    better = "higher"
    """)

CHALLENGE_BETA = textwrap.dedent("""\
    id = "beta"
    title = "Beta Kernel"
    difficulty = "Medium"
    kind = "cuda"
    summary = "A fused kernel."
    suite_version = "1"

    [[traps]]
    id = "b_trap"
    title = "Warps mix rows"

    [[metrics]]
    name = "bandwidth"
    unit = "GB/s"
    better = "higher"
    """)

STUDY = textwrap.dedent("""\
    [study]
    title = "Synthetic Study"
    source = "https://example.org/synthetic-study"
    commit = "feedbee"
    judge = "Synthetic Judge 1.0"
    grade_scale = "A..F"

    [[models]]
    folder = "synthetic-a"
    name = "Synthetic Alpha Model"
    provider = "Acme AI"
    [[models]]
    folder = "synthetic-b"
    name = "Synthetic Bravo"
    provider = "Acme AI"
    [[models]]
    folder = "synthetic-c"
    name = "Synthetic Charlie"
    [[models]]
    folder = "synthetic-d"
    name = "Synthetic Delta"
    [[models]]
    folder = "synthetic-e"
    name = "Synthetic Echo"
    [[models]]
    folder = "synthetic-f"
    name = "Synthetic Foxtrot"
    [[models]]
    folder = "synthetic-g"
    name = "Synthetic Golf"
    provider = "Elsewhere"

    [[challenges]]
    folder = "alpha"
    title = "Alpha Attention"
    difficulty = "Hard"
    harness = "opencode"
    [[challenges]]
    folder = "beta"
    title = "Beta Kernel"
    difficulty = "Medium"
    harness = "pi-mono"

    [grades.alpha]
    "synthetic-a" = "A"
    "synthetic-b" = "A-"
    "synthetic-c" = "B"
    "synthetic-d" = "B+"
    "synthetic-e" = "C"
    "synthetic-g" = "B-"
    [grades.beta]
    "synthetic-a" = "A-"
    "synthetic-b" = "B"
    "synthetic-g" = "C+"
    "synthetic-d" = "A-"

    [[ranking]]
    rank = 1
    model = "synthetic-g"
    average = "B-/C+"
    [[ranking]]
    rank = 2
    model = "synthetic-a"
    average = "A/A-"
    [[ranking]]
    rank = 3
    model = "synthetic-b"
    average = "B+"

    [reported.alpha.err]
    "synthetic-a" = 1.5e-16
    "synthetic-g" = 3.25e-08
    """)

INDEX = textwrap.dedent("""\
    ---
    hide:
      - toc
    ---

    # Synthetic home

    <p class="lb-lede">What this site is, in two sentences. The second one.</p>

    ## Grades the evidence contradicts

    <!-- live: contradicted -->

    <!-- live: claims verdict=contradicted limit=3 -->

    ## Two rankings

    <div class="lb-pair" markdown>
    <div markdown>

    <!-- live: ranking -->

    </div>
    <div markdown>

    <!-- live: ranking source=evidence -->

    </div>
    </div>

    ## Grades and evidence

    <!-- live: grade-matrix compact=true -->

    ## Full matrix

    <!-- live: grade-matrix -->

    <!-- live: provenance -->

    <!-- live: study -->

    Downloads: <!-- live: downloads -->
    """)

ANALYSIS = textwrap.dedent("""\
    # Synthetic analysis

    The reference reaches <!-- live: value model=_reference challenge=alpha metric=err --> and
    synthetic-a reported <!-- live: value model=synthetic-a challenge=alpha metric=err source=reported format=.2e -->.

    | Model | err |
    | --- | --- |
    | a | <!-- live: value model=synthetic-a challenge=alpha metric=err --> |
    | b | <!-- live: value model=synthetic-b challenge=alpha metric=err --> |
    | f | <!-- live: value model=synthetic-f challenge=alpha metric=err --> |

    <!-- live: results challenge=alpha -->

    <!-- live: traps challenge=alpha -->

    <!-- live: chart challenge=alpha metric=err -->

    <!-- live: chart challenge=alpha metric=err source=reported title="Reported error" -->

    <!-- live: tests model=synthetic-b challenge=alpha -->

    <!-- live: controls challenge=alpha -->

    <!-- live: provenance model=synthetic-a challenge=alpha -->

    <!-- live: challenges -->

    <!-- live: models -->

    ```cuda
    __global__ void k(float* x) { if (x) { x[0] = 1; } }
    // <!-- live: not-a-directive -->
    ```

    Inline code `<!-- live: also-not -->` stays.
    """)

MKDOCS = textwrap.dedent("""\
    site_name: synthetic
    site_url: https://synthetic.example.org/bench/
    strict: true
    theme:
      name: material
      font: false
      features: [navigation.instant, navigation.indexes, search.highlight]
      palette:
        - media: "(prefers-color-scheme: light)"
          scheme: default
          toggle: {icon: material/weather-night, name: dark}
        - media: "(prefers-color-scheme: dark)"
          scheme: slate
          toggle: {icon: material/weather-sunny, name: light}
    plugins:
      - search
      - llmbench:
          publish_sources: PUBLISH
    markdown_extensions: [toc, tables, attr_list, md_in_html, admonition, pymdownx.superfences, pymdownx.highlight]
    validation:
      omitted_files: info
      absolute_links: info
      unrecognized_links: warn
      anchors: warn
    not_in_nav: |
      /solutions/
    nav:
      - Home: index.md
      - Challenges: challenges/index.md
      - Models: models/index.md
      - Analysis: analysis/index.md
      - Downloads: downloads.md
    """)

README = textwrap.dedent("""\
    # Synthetic README

    Hand-written intro with a `<!-- live: ranking -->` example in code.

    <!-- live: ranking -->

    Middle text, kept byte for byte.   Trailing spaces too.

    <!-- live: grade-matrix -->
    stale generated text
    <!-- /live -->

    <!-- live: chart challenge=alpha metric=err -->

    End.
    """)


# One claim per verdict state (see tests/site/test_claims_site.py); verdicts are computed, never written.
CLAIMS = textwrap.dedent("""\
    [[claims]]
    id = "a-avoids-t-one"
    source = "analysis/synthetic-review.md"
    line = 12
    model = "synthetic-a"
    challenge = "alpha"
    kind = "trap_avoided"
    claim = "Alpha model rescales in the right direction."
    decider = { trap = "t_one", expected = "avoided" }

    [[claims]]
    id = "b-avoids-t-one"
    source = "analysis/synthetic-review.md"
    line = 20
    model = "synthetic-b"
    challenge = "alpha"
    kind = "trap_avoided"
    claim = "Bravo's rescaling is right too."
    decider = { trap = "t_one", expected = "avoided" }
    contradicts = ["b-falls-t-one"]

    [[claims]]
    id = "b-falls-t-one"
    source = "analysis/synthetic-other.md"
    line = 7
    model = "synthetic-b"
    challenge = "alpha"
    kind = "trap_fallen"
    claim = "Bravo inverts the rescaling factor."
    decider = { trap = "t_one", expected = "fell_in" }

    [[claims]]
    id = "b-mask-nan"
    source = "analysis/synthetic-review.md"
    line = 31
    model = "synthetic-b"
    challenge = "alpha"
    kind = "trap_avoided"
    claim = "Bravo guards the fully masked tile."
    decider = { trap = "t_three", expected = "avoided" }

    [[claims]]
    id = "a-error-tiny"
    source = "analysis/synthetic-review.md"
    line = 40
    model = "synthetic-a"
    challenge = "alpha"
    kind = "figure"
    claim = "Alpha model's error is near machine precision."
    decider = { metric = "err", op = "<", value = 1e-12 }

    [[claims]]
    id = "f-correct"
    source = "analysis/synthetic-review.md"
    line = 50
    model = "synthetic-f"
    challenge = "alpha"
    kind = "correctness"
    claim = "Foxtrot passes every check."
    decider = { conformance = "pass" }

    [[claims]]
    id = "d-error"
    source = "analysis/synthetic-review.md"
    line = 60
    model = "synthetic-d"
    challenge = "alpha"
    kind = "figure"
    claim = "Delta's error is small."
    decider = { metric = "err", op = "<", value = 1e-4 }

    [[claims]]
    id = "b-beta-bandwidth"
    source = "analysis/synthetic-review.md"
    line = 70
    model = "synthetic-b"
    challenge = "beta"
    kind = "performance"
    claim = "Bravo's kernel is bandwidth-bound."
    decider = { metric = "bandwidth", op = ">", value = 50 }

    [[claims]]
    id = "g-docs"
    source = "analysis/synthetic-review.md"
    line = 80
    model = "synthetic-g"
    challenge = "alpha"
    kind = "not_checkable"
    claim = "Golf writes the clearest comments."
    decider = { none = "style" }
    """)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def make_project(root: Path, publish_sources: bool = True) -> Path:
    write(root / "pyproject.toml", "[project]\nname = 'synthetic'\n")
    write(root / "challenges/alpha/challenge.toml", CHALLENGE_ALPHA)
    write(root / "challenges/alpha/PROMPT.md", "# Task\n\nWrite `attend`. Data in [corpus](corpus/x.txt).\n\n"
                                               "```python\ndef attend(Q, K, V): ...\n```\n")
    for trap in ("t_one", "t_two"):
        write(root / f"challenges/alpha/mutants/{trap}.patch", "--- a/x.py\n+++ b/x.py\n")
    write(root / "challenges/beta/challenge.toml", CHALLENGE_BETA)
    write(root / "data/study.toml", STUDY)
    write(root / "data/claims.toml", CLAIMS)
    write(root / "docs/index.md", INDEX)
    write(root / "analysis/synthetic.md", ANALYSIS)
    write(root / "mkdocs.yml", MKDOCS.replace("PUBLISH", "true" if publish_sources else "false"))
    write(root / "README.md", README)

    sol = root / "solutions"
    write(sol / "synthetic-a/model.toml", 'name = "Synthetic Alpha Model"\nprovider = "Acme AI"\n')
    a = sol / "synthetic-a/alpha"
    write(a / "attend.py", "import numpy as np\n\ndef attend(Q, K, V):\n    # <b>bold</b> & <!-- live: ranking -->\n"
                           "    return Q  # SECRET_SOURCE_MARKER\n")
    write(a / "test_attend.py", "def test_it():\n    assert True\n")
    write(a / "FINAL.md", MALICIOUS_NOTE)
    write(a / "weird <b>name</b>.py", "x = 1\n")
    write(a / "blob.bin", b"\x00\x01\x02binary")
    write(a / "session.jsonl", "\n".join([
        json.dumps({"type": "user", "timestamp": "2026-04-01T10:00:00Z", "content": "go"}),
        json.dumps({"type": "assistant", "timestamp": "2026-04-01T10:05:00Z",
                    "message": {"content": [{"type": "tool_use", "name": "bash"}, {"type": "text"}]}}),
        "{not json",
        json.dumps({"type": "assistant", "timestamp": "2026-04-01T10:09:00Z", "tool_calls": [{}, {}]}),
    ]) + "\n")
    write(sol / "synthetic-a/beta/kernel.cu", "__global__ void k() {}\n")
    for m in ("synthetic-b", "synthetic-c", "synthetic-d", "synthetic-e", "synthetic-f"):
        write(sol / f"{m}/alpha/attend.py", f"def attend(Q, K, V):\n    return None  # {m}\n")
    write(sol / "synthetic-b/beta/kernel.cu", "__global__ void k() { /* b */ }\n")

    store = ResultStore(root / "results")
    conf_ok = _phase("conformance", [("test_small", "passed", None, ""), ("test_rescale", "passed", "t_one", ""),
                                     ("test_padding", "passed", "t_two", ""), ("test_mask", "passed", "t_three", "")])
    store.write(result("synthetic-a", "alpha", "ok", own=_phase("own_tests", [("test_it", "passed", None, "")]),
                       conformance=conf_ok, metrics={"err": 2.5e-16, "speed": 12.5},
                       traps={"t_one": ("avoided",), "t_two": ("avoided",), "t_three": ("avoided",)},
                       reported={"err": Reported(value=1.0e-16, source="FINAL.md")},
                       adapter=AdapterInfo(kind="mapping", mapping={"attend": "attend.attend"},
                                           notes="maps <attend> by name")))
    store.write(result(
        "synthetic-b", "alpha", "failed", reason="2 conformance tests failed",
        own=_phase("own_tests", [("test_b", "failed", None, "AssertionError: <boom> | pipe *star*")], status="failed"),
        conformance=_phase("conformance", [
            ("test_small", "passed", None, ""),
            ("test_rescale", "failed", "t_one", "max error 3.1 > 1e-4 at row 7"),
            ("test_padding", "passed", "t_two", ""),
            ("test_mask", "skipped", "t_three", "not expressible: no key_padding_mask")],
            log="Traceback (most recent call last):\n  <script>x</script>\nValueError: bad\n"),
        metrics={"err": 3.1}, traps={"t_one": ("fell_in", "", "test_rescale"), "t_two": ("avoided",),
                                     "t_three": ("not_run", "not expressible: no key_padding_mask")}))
    store.write(result("synthetic-c", "alpha", "timeout", reason="conformance exceeded 600 s",
                       conformance=_phase("conformance", [], status="timeout", reason="exceeded 600 s"),
                       traps={"t_one": ("not_run", "timeout")}))
    store.write(result("synthetic-d", "alpha", "not_runnable", reason="ImportError: no module named torch"))
    store.write(result("synthetic-d", "beta", "not_runnable",
                       reason="entry point make_cache not found in /work/build-machine/sandbox/kernel.py; "
                              "map it in adapters/synthetic-d/beta/adapter.toml",
                       traps={"b_trap": ("not_run", "entry point make_cache not found")}))
    write(sol / "synthetic-d/beta/kernel.cu", "__global__ void fused_kernel(float* x) {}\n")
    store.write(result("synthetic-e", "alpha", "harness_error", reason="worker lost"))
    write(root / "results/synthetic-a/beta.json", '{"schema_version": 1, "model": "synthetic-a", "chall')
    store.write(result("synthetic-b", "beta", "ok", suite="0", metrics={"bandwidth": 84.0},
                       traps={"b_trap": ("avoided",)}, conformance=_phase("conformance", [("t", "passed", None, "")])))
    # controls: the reference avoids everything; t_one's mutant is caught, t_two's is not
    store.write(result("_reference", "alpha", "ok", run_kind="reference", metrics={"err": 1.1e-16, "speed": 20.0},
                       traps={"t_one": ("avoided",), "t_two": ("avoided",), "t_three": ("avoided",)},
                       conformance=conf_ok))
    store.write(result("_reference", "alpha", "ok", run_kind="mutant", mutant_trap="t_one",
                       traps={"t_one": ("fell_in", "", "test_rescale")}))
    store.write(result("_reference", "alpha", "ok", run_kind="mutant", mutant_trap="t_two",
                       traps={"t_two": ("avoided",)}))
    return root
