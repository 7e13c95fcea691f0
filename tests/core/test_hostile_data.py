"""Issue 11: data a solution produced never becomes a harness error (hostile inputs, bounded)."""
from __future__ import annotations

import io

import numpy as np
import pytest

from llmbench import wire
from llmbench.phases import discovery, own_tests


def test_a_blob_referenced_many_times_is_refused_not_amplified():
    blobs: list[bytes] = []
    ref = wire.encode(np.zeros(1 << 20, dtype=np.uint8), blobs)  # one 1 MB blob
    header = {"ok": True, "value": [ref] * 250}  # 250 MB if each reference decoded a copy
    buf = io.BytesIO()
    wire.write_message(buf, header, blobs)
    buf.seek(0)
    got, got_blobs = wire.read_message(buf)
    with pytest.raises(wire.ProtocolError, match="more than once"):
        wire.decode(got["value"], got_blobs)
    assert wire.decode([ref], blobs)[0].shape == (1 << 20,)  # once is fine


def test_a_printed_truncation_marker_with_a_huge_number_is_harmless():
    fake = "[... " + "9" * 10_000 + " earlier bytes not kept ...]\n"
    tail = own_tests._log_tail(fake + "x" * 20_000)
    assert tail.endswith("x" * 100) and len(tail) < 9_000


def test_parsing_a_source_bomb_is_bounded(tmp_path, monkeypatch):
    """800 KB of `a,` needs ~570 MB to parse (a 4 MB one, gigabytes): it is parsed in a child
    with an address-space cap, so the harness neither grows nor fails; the file is skipped."""
    import resource

    monkeypatch.setattr(discovery, "ANALYSIS_MEMORY_BYTES", 160 * 1024**2)
    (tmp_path / "test_bomb.py").write_text("x = (" + "a," * 400_000 + ")\n\ndef test_x():\n    assert x\n")
    (tmp_path / "test_fine.py").write_text("def test_y():\n    assert 1\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    targets, scripts, asserts, missing, gave_up = own_tests.analyse(tmp_path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"the harness itself grew by {grown_mb:.0f} MB"
    assert [t.name for t in targets] == ["test_fine.py"] and gave_up == ""
