"""Challenge kinds: which phases run for a challenge, what its worker needs, which machine facts
enter its keys. See `llmbench.kinds.base.Kind` for the contract and
docs/contributing/architecture.md for how to add one."""
from .base import Kind
from .registry import kind_for, kind_names, register_kind, unregister_kind
from . import python as _python  # noqa: F401,E402 - the built-in kinds register themselves
from . import cuda as _cuda  # noqa: F401,E402

__all__ = ["Kind", "kind_for", "kind_names", "register_kind", "unregister_kind"]
