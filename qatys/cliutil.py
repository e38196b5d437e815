"""What every Qatys command shares: exit codes, JSON output, error mapping."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import click

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_REFUSED = 4


def emit(payload: dict[str, Any]) -> None:
    """One JSON object on one stdout line, flushed at once (scripts read it line by line)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = EXIT_BAD_INPUT,
         problems: list[str] | None = None) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    for problem in problems or []:
        click.echo(f"  {problem}", err=True)
    raise SystemExit(code)


@contextmanager
def errors_as_exit(mapping: Mapping[type[BaseException], int]) -> Iterator[None]:
    """Turn the given exception families into a message on stderr and an exit code."""
    try:
        yield
    except tuple(mapping) as exc:
        for kind, code in mapping.items():
            if isinstance(exc, kind):
                fail(str(exc), code, getattr(exc, "problems", None))
        raise
