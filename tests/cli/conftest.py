"""The CLI tests call ``hwnas.cli.main`` in-process and read what it printed."""

from collections.abc import Callable

import pytest

from hwnas.cli import main


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """``cli(*argv) -> (exit code, stdout, stderr)``; arguments may be paths or numbers."""

    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run
