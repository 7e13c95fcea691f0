"""Tiers for the kv suite's tests (see the conformance plugin: every test declares one).

The study's kv prompt gives no API: it asks for incremental decoding without recomputing past
tokens, multi-head attention and batches of variable-length sequences. Whatever a correct
KV-cache does under those requirements is a prompt rule here; timing and memory figures go
beyond it. This file only fills in tests that declare no tier themselves, so a test's own
`@pytest.mark.prompt(...)` / `@pytest.mark.beyond(...)` always wins.
"""
import pytest

PROMPT = ("Requirements 1-3: incremental decoding, no recomputation of past tokens, multi-head "
          "attention, variable-length batches (the API is llmbench's: the prompt gives none)")
BEYOND = {  # test name -> why it is stricter than the prompt
    "test_decode_cost": "timing and memory figures: the prompt asks for an analysis of memory growth, not a speed",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if any(m.name in ("prompt", "beyond") for m in item.iter_markers()):
            continue
        why = BEYOND.get(item.originalname if hasattr(item, "originalname") else item.name)
        item.add_marker(pytest.mark.beyond(why) if why else pytest.mark.prompt(PROMPT))
