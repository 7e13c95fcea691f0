"""The registry of challenge kinds: built-in kinds register here, and so can a plugin's."""
from __future__ import annotations

from .base import Kind

_KINDS: dict[str, Kind] = {}  # the registry itself: written only by register_kind


def register_kind(cls: type[Kind]) -> type[Kind]:
    """Class decorator: make `cls` the kind named ``cls.name``.

    Raises:
        ValueError: The class has no name or no phases, or the name is taken by another class.
    """
    if not cls.name or not cls.phases:
        raise ValueError(f"{cls.__name__}: a kind needs a name and at least one phase")
    names = [p.name for p in cls.phases]
    if len(set(names)) != len(names):
        raise ValueError(f"{cls.__name__}: phase names repeat: {', '.join(names)}")
    have = _KINDS.get(cls.name)
    if have is not None and type(have) is not cls:
        raise ValueError(f"kind '{cls.name}' is already registered by {type(have).__name__}")
    _KINDS[cls.name] = cls()
    return cls


def unregister_kind(name: str) -> None:
    """Remove a kind (tests that register a toy kind clean up with this)."""
    _KINDS.pop(name, None)


def kind_for(name: str) -> Kind:
    """The registered kind called `name`.

    Raises:
        KeyError: No such kind; the message lists the registered ones.
    """
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind '{name}'; valid kinds: {', '.join(kind_names())}") from None


def kind_names() -> tuple[str, ...]:
    """The registered kinds' names, in registration order."""
    return tuple(_KINDS)
