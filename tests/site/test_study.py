"""data/study.toml: the published study's facts, loaded and checked."""
from __future__ import annotations

from pathlib import Path

import pytest

from llmbench.errors import ContentError
from llmbench.study import load_study

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundled_study_has_six_models_and_eight_challenges():
    s = load_study(ROOT / "data" / "study.toml")
    assert [m.id for m in s.models] == ["glm5", "glm5.1", "qwen36", "opus47_1m", "kimi-k2.6", "minimax-m2.7"]
    assert len(s.challenges) == 8 and s.challenge("flash_attention").difficulty == "Hard"
    assert s.judge.startswith("DeepSeek V4 Pro") and s.source.endswith("llm_programming_tests") and s.commit
    assert [(e.rank, e.model, e.average) for e in s.ranking][:2] == [(1, "glm5", "A-/B+"), (2, "opus47_1m", "A-/B+")]
    assert s.grade("kimi-k2.6", "ternary_training") == "C" and s.grade("kimi-k2.6", "kv") is None
    assert s.reported_value("qwen36", "ternary_training", "validation_perplexity") == 319
    assert sum(len(g) for g in s.grades.values()) == 35


def test_missing_file_is_no_study(tmp_path):
    assert load_study(tmp_path / "none.toml") is None


@pytest.mark.parametrize("extra, message", [
    ('[grades.kv]\nnobody = "A"\n', "unknown model 'nobody'"),
    ('[grades.nowhere]\nm1 = "A"\n', "unknown challenge 'nowhere'"),
    ('[[ranking]]\nrank = 1\nmodel = "ghost"\n', "unknown model 'ghost'"),
    ('[reported.kv.err]\nm1 = true\n', "must be a number or a string"),
])
def test_mistakes_name_the_file_and_the_valid_names(tmp_path, extra, message):
    path = tmp_path / "study.toml"
    path.write_text('[study]\ntitle = "t"\nsource = "s"\njudge = "j"\n'
                    '[[models]]\nfolder = "m1"\nname = "M1"\n[[challenges]]\nfolder = "kv"\ntitle = "KV"\n' + extra)
    with pytest.raises(ContentError) as exc:
        load_study(path)
    assert message in str(exc.value) and str(path) in str(exc.value)
    if "unknown model" in message:
        assert "valid models: m1" in str(exc.value)
