"""The search methods by name: the one list the CLI, ``hwnas run``, the report and the docs read.

The built-in methods (:mod:`hwnas.search.methods`) register themselves when they are imported, which
``hwnas/search/__init__.py`` does: importing this module imports that package first, so the registry is full
without importing any method itself (no import cycle). A new method is one module with a
:class:`~hwnas.search.method.SearchMethod` subclass decorated with :func:`register`, imported before the registry
is read (a test's toy method does exactly that).
"""

from __future__ import annotations

from hwnas.search.method import SearchMethod

_METHODS: dict[str, SearchMethod] = {}


def register(cls: type[SearchMethod]) -> type[SearchMethod]:
    """Class decorator: make ``cls`` available as ``--method cls.name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__} needs a class attribute `name`")
    if name in _METHODS and type(_METHODS[name]) is not cls:
        raise ValueError(f"a search method named {name!r} is already registered ({type(_METHODS[name]).__name__})")
    _METHODS[name] = cls()
    return cls


def unregister(name: str) -> None:
    """Remove the method ``name``: for tests and plugins that register one for a while (a test's toy method),
    so that it does not outlive them. A ``ValueError`` if no such method is registered."""
    if name not in _METHODS:
        raise ValueError(f"no search method named {name!r} is registered")
    del _METHODS[name]


def method_names() -> tuple[str, ...]:
    """Every registered method, built-ins first in their documented order."""
    return tuple(_METHODS)


def get_method(name: str) -> SearchMethod:
    """The registered method ``name``; a ``ValueError`` naming the valid ones otherwise."""
    if name not in _METHODS:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(_METHODS)}")
    return _METHODS[name]
