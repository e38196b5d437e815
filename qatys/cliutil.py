"""What every Qatys command shares: exit codes, JSON output, error mapping.

Commands are declared one way: a click command in its package's ``cli`` module (the ``qatys``
command only gathers them), its errors turned into exit codes by :func:`exit_codes` — for the
server's commands through ``server.datadir.with_data_dir``, which also opens ``--data``.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from qatys.sentences import Sentence, say, told

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_REFUSED = 4

P = ParamSpec("P")
R = TypeVar("R")

ExitCodes = Mapping[type[BaseException] | tuple[type[BaseException], str], int]
"""Exception families (or a family and one of its ``code`` values) and their exit codes."""


def emit(payload: dict[str, Any]) -> None:
    """One JSON object on one stdout line, flushed at once (scripts read it line by line)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(message: Sentence | str, code: int = EXIT_BAD_INPUT,
         problems: list[Sentence | str] | None = None) -> NoReturn:
    """``error: message`` (and each problem, indented) on stderr in the reader's language
    (qatys/sentences.py), then exit with ``code``."""
    click.echo(say(Sentence("error: %(message)s", message=message)), err=True)
    for problem in problems or []:
        click.echo(f"  {say(problem)}", err=True)
    raise SystemExit(code)


def exit_code_of(exc: BaseException, mapping: ExitCodes) -> int | None:
    """The exit code for ``exc``: its family's and code's, else its nearest family's."""
    code = getattr(exc, "code", None)
    for kind in type(exc).__mro__:
        if isinstance(code, str) and (kind, code) in mapping:
            return mapping[(kind, code)]
    return next((mapping[kind] for kind in type(exc).__mro__ if kind in mapping), None)


def exit_codes(mapping: ExitCodes) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The one decorator that maps a command's errors to exit codes: ``error: message`` (and
    each of its ``problems``) on stderr, then the family's exit code; any other exception
    goes on as it is."""
    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return command(*args, **kwargs)
            except BaseException as exc:
                _exit_or_raise(exc, mapping)
        return run
    return decorate


def _exit_or_raise(exc: BaseException, mapping: ExitCodes) -> NoReturn:
    code = exit_code_of(exc, mapping)
    if code is None:
        raise exc
    fail(told(exc), code, getattr(exc, "problem_sentences", None)
         or getattr(exc, "problems", None))
