"""Challenge kinds: which phases run for a challenge (python, cuda, training)."""

PHASES = {
    "python": ("own_tests", "conformance"),
    "training": ("own_tests", "conformance"),
    "cuda": ("compile", "own_tests", "conformance"),
}
