"""The Python kinds: a solution is Python modules; its own tests, then our conformance suite."""
from __future__ import annotations

from ..phases.builtin import ConformancePhase, OwnTestsPhase
from .base import Kind
from .registry import register_kind


@register_kind
class PythonKind(Kind):
    """Plain Python (NumPy) solutions."""

    name = "python"
    phases = (OwnTestsPhase(), ConformancePhase())
    concurrent_phases = True


@register_kind
class TrainingKind(Kind):
    """Python solutions that train something (they may need an optional framework, e.g. MLX)."""

    name = "training"
    phases = (OwnTestsPhase(), ConformancePhase())
    concurrent_phases = True
