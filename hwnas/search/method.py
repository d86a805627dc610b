"""The contract every search method implements: one class, registered by name.

A method is a :class:`SearchMethod` subclass that says what it is (``name``, a one-line ``summary``), how it is
set up (``config_class``, a dataclass with commented defaults that ``--set KEY=VALUE`` overrides), what it
searches (``searches_widths``: False for methods that keep every elastic width at its largest and search ops and
depth only, as FBNet and HardCoRe-NAS do) and whether it can search again on a supernet an earlier search trained
(``reuses_supernet``, ``--from-supernet DIR``) and whether it needs a latency budget to aim at
(``needs_latency_target``). Its ``run(ctx)`` gets everything in one
:class:`~hwnas.search.context.SearchContext` and returns the search's outcome.

Registering it (:func:`hwnas.search.registry.register`) is all the CLI (``hwnas search --method``), ``hwnas run``
(``search.method``), the report and the docs need: they read the registry, never a list of names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from hwnas.search.context import SearchContext
    from hwnas.search.result import SearchResult


class SearchMethod(ABC):
    """One search method (see the module docstring)."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line: the paper and what the method does
    config_class: ClassVar[type]
    searches_widths: ClassVar[bool] = True
    reuses_supernet: ClassVar[bool] = False
    needs_latency_target: ClassVar[bool] = False  # searches towards a latency budget (TF-NAS), not only under it

    def config(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """The method's config with ``overrides`` (dotted names reach nested configs) applied together."""
        from hwnas.settings import apply_overrides

        return apply_overrides(self.config_class(), overrides or {})

    @abstractmethod
    def run(self, ctx: SearchContext) -> SearchResult:
        """Search the space of ``ctx`` under its constraints with ``ctx.config`` (and ``ctx.budgets``,
        ``ctx.from_supernet``); return the result (:func:`hwnas.search.result.build_result` makes one)."""
