"""The registry is the one list of methods: the docs and the CLI's help say what it holds, no more, no less."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from hwnas.cli import build_parser
from hwnas.search.registry import get_method, method_names

ROOT = Path(__file__).resolve().parents[2]


def _search_help() -> str:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["search"].format_help()


def test_search_md_describes_every_registered_method_and_its_config():
    text = (ROOT / "docs" / "SEARCH.md").read_text()
    methods = text.split("## The methods", 1)[1].split("\n## ", 1)[0]
    described = re.findall(r"^\| `(\w+)` \| `search/methods/", methods, flags=re.M)
    assert described == list(method_names())
    for name in method_names():
        config = get_method(name).config_class.__name__
        assert re.search(rf"^\| [^|]*\b{name}\b[^|]* \| `{config}` \|", methods, flags=re.M), (name, config)


def test_readme_and_help_list_the_registered_methods():
    listed = "\\|".join(method_names())
    assert f"hwnas search --method {listed} " in (ROOT / "README.md").read_text()
    text = " ".join(_search_help().split())
    for name in method_names():
        assert f"{name} {get_method(name).summary}" in text
