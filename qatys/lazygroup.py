"""A click group whose commands are imported only when one is run, listed or asked for help.

A terminal runs ``qatys terminal …`` on a Raspberry Pi, where importing every package's
commands (the server's SQLAlchemy, Alembic, gevent, the PDF and spreadsheet writers) would cost
seconds at each start; and a terminal's release carries only the terminal's dependencies
(pyproject.toml's base set; the server's are the ``server`` extra), so the server's commands
cannot even be imported there. Each command is therefore named here with a loader; a command
whose loader fails because a third-party package is not installed is hidden from the help,
and running it says what is missing instead of ending in a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import click

from qatys.cliutil import EXIT_BAD_INPUT, fail
from qatys.sentences import Sentence

Loader = Callable[[], click.Command]

OWN_PACKAGES = frozenset({"qatys", "server", "terminal", "protocol", "provisioning"})
"""Import failures inside these are bugs, never "not installed here"."""


class NotInstalledHere(click.Command):
    """What a command whose packages this installation lacks turns into: it fails at once with
    the missing package's name (exit 2), whatever it is given."""

    def __init__(self, name: str, missing: str) -> None:
        super().__init__(name, context_settings={"ignore_unknown_options": True,
                                                 "allow_extra_args": True},
                         callback=self._refuse, add_help_option=False, hidden=True,
                         help="Not available in this installation.")
        self.missing = missing

    def _refuse(self) -> None:
        fail(Sentence("'%(command)s' is not available in this installation: it needs the "
                      "package %(package)s, which a terminal's release does not carry (a "
                      "server installs Qatys with its 'server' extra, docs/deployment.md)",
                      command=self.name, package=self.missing), EXIT_BAD_INPUT)


def missing_package(error: ModuleNotFoundError) -> str | None:
    """The third-party package ``error`` says is not installed, or None when the missing
    module is one of ours (a bug to be seen, not hidden)."""
    top = (error.name or "").split(".")[0]
    return None if not top or top in OWN_PACKAGES else top


def load(name: str, loader: Loader) -> click.Command:
    """``loader()``, or a :class:`NotInstalledHere` when a package it needs is not installed."""
    try:
        return loader()
    except ModuleNotFoundError as error:
        missing = missing_package(error)
        if missing is None:
            raise
        return NotInstalledHere(name, missing)


class LazyGroup(click.Group):
    """A group of commands given as loaders, each imported the first time it is needed."""

    def __init__(self, *args: object, lazy: Mapping[str, Loader], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._loaders = {name: functools.cache(functools.partial(load, name, loader))
                         for name, loader in lazy.items()}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._loaders})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._loaders:
            return self._loaders[cmd_name]()
        return super().get_command(ctx, cmd_name)


def with_lazy(group: click.Group, lazy: Mapping[str, Loader]) -> LazyGroup:
    """``group`` with more commands, given as loaders (the terminal's group gets the server's
    ``token`` and ``revoke`` this way, so its own commands never import the server)."""
    return LazyGroup(name=group.name, commands=group.commands, lazy=lazy,
                     callback=group.callback, params=group.params, help=group.help,
                     short_help=group.short_help, context_settings=group.context_settings)
