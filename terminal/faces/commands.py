"""``qatys face …`` declared: enrol, identify, check in and withdraw by face on a terminal
(``--home TDIR``). Light on purpose: the face code (terminal/faces/cli.py, with numpy and the
models) loads only when one of these commands runs, not for every ``qatys`` command."""

from __future__ import annotations

from pathlib import Path

import click

from terminal.cli import HOME


@click.group("face")
def face_group() -> None:
    """Face check-in on a terminal, only for children with consent (QR always works too)."""


_IMAGES = click.argument("images", nargs=-1, required=True,
                         type=click.Path(dir_okay=False, path_type=Path))
_SEQUENCE = click.option("--sequence", is_flag=True,
                         help="The pictures are frames of one person at the door: a match "
                              "needs a blink or head turn across them, as at the kiosk.")


@face_group.command("enroll")
@HOME
@click.option("--child", "child_id", required=True, help="Child id from the roster.")
@click.option("--liveness", is_flag=True,
              help="Require a blink or head turn across the pictures (the kiosk always does).")
@_IMAGES
def face_enroll(home: Path, child_id: str, liveness: bool, images: tuple[Path, ...]) -> None:
    """Enrol a child's face from pictures (consent must be in force); one JSON line."""
    from terminal.faces import cli as face_cli

    face_cli.enroll_command(home, child_id, images, liveness)


@face_group.command("identify")
@HOME
@_SEQUENCE
@_IMAGES
def face_identify(home: Path, sequence: bool, images: tuple[Path, ...]) -> None:
    """Who is in each picture: match, unknown, uncertain, no_face or spoof (JSON lines)."""
    from terminal.faces import cli as face_cli

    face_cli.identify_command(home, images, sequence)


@face_group.command("scan")
@HOME
@_SEQUENCE
@_IMAGES
def face_scan(home: Path, sequence: bool, images: tuple[Path, ...]) -> None:
    """Check in by face from pictures, as the camera would (method face); JSON lines."""
    from terminal.faces import cli as face_cli

    face_cli.scan_command(home, images, sequence)


@face_group.command("withdraw")
@HOME
@click.option("--child", "child_id", required=True, help="Child id from the roster.")
@click.option("--by", default="", help="Who took the withdrawal at the terminal.")
def face_withdraw(home: Path, child_id: str, by: str) -> None:
    """A parent withdraws face consent at the terminal: erase here now, tell the server."""
    from terminal.faces import cli as face_cli

    face_cli.withdraw_command(home, child_id, by)


@face_group.command("list")
@HOME
def face_list(home: Path) -> None:
    """The face templates on this terminal (JSON lines; children named only when unlocked)."""
    from terminal.faces import cli as face_cli

    face_cli.list_command(home)
