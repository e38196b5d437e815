"""The ``qatys`` command: one entry point for server, provisioning, terminal and demo."""

from __future__ import annotations

from pathlib import Path

import click

from provisioning import cli as provisioning_cli
from qatys import __version__
from server import cli as server_cli
from server.families import consent_cli, guardians_cli
from server.finance import accounts_cli
from server.money import cli as money_cli
from server.queue_core import cli as queue_core_cli
from terminal import cli as terminal_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qatys")
def cli() -> None:
    """Qatys: kindergarten attendance terminals and their sync server."""


@cli.group("terminal")
def terminal_group() -> None:
    """Terminals: tokens and revocation (server side), enrolment, check-ins and sync."""


@terminal_group.command("enroll")
@terminal_cli.HOME
@click.option("--server", required=True, help="Server URL, e.g. http://127.0.0.1:8080")
@click.option("--token", required=True, help="One-time token from `qatys terminal token`.")
@click.option("--allow-plain-http", is_flag=True,
              help="Accept an http:// server on another machine (labs only; stored as the "
                   "setting allow_plain_http).")
def terminal_enroll(home: Path, server: str, token: str, allow_plain_http: bool) -> None:
    """Enrol this terminal; prints the terminal id on the last line (exit 2 when refused,
    also when the answer is not signed by the token's server)."""
    terminal_cli.enroll_command(home, server, token, allow_plain_http)


@terminal_group.command("checkin")
@terminal_cli.HOME
@click.option("--child", required=True, help="Child id from the roster.")
@click.option("--manual", is_flag=True, help="A staff entry (required: scans use the camera).")
@click.option("--reason", default="", help="Why the entry is manual (required with --manual).")
@click.option("--by", default="", help="Who made the entry.")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None,
              help="Force arrival or departure instead of the door logic.")
def terminal_checkin(home: Path, child: str, manual: bool, reason: str, by: str,
                     direction: str | None) -> None:
    """Record a manual check-in; one JSON line, printed only after commit."""
    terminal_cli.checkin_command(home, child, manual, reason, by, direction)


@terminal_group.command("sync")
@terminal_cli.HOME
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def terminal_sync(home: Path, quiet: bool) -> None:
    """Push pending events until acknowledged; exit 0 ok, 3 unreachable, 4 refused, 5 an
    answer not believed (named in "refused")."""
    terminal_cli.sync_command(home, quiet)


@terminal_group.command("status")
@terminal_cli.HOME
@click.option("--json", "as_json", is_flag=True, help="One JSON line.")
def terminal_status(home: Path, as_json: bool) -> None:
    """Pending events, acknowledged sequence number, last sync."""
    terminal_cli.status_command(home, as_json)


@terminal_group.command("consent")
@terminal_cli.HOME
def terminal_consent(home: Path) -> None:
    """Face-check-in consent as this terminal knows it (after its last sync)."""
    terminal_cli.consent_command(home)


@terminal_group.command("unlock")
@terminal_cli.HOME
@click.option("--card", required=True,
              help="Text of the director's unlock card QR (QUL1-…).")
def terminal_unlock(home: Path, card: str) -> None:
    """Open the roster offline (greeting by name) with a director's unlock card."""
    terminal_cli.unlock_command(home, card)


@terminal_group.command("decode")
@click.argument("images", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
def terminal_decode(images: tuple[Path, ...]) -> None:
    """QR texts found in each image (no verification): one JSON line per image."""
    terminal_cli.decode_command(images)


@terminal_group.command("scan")
@terminal_cli.HOME
@click.argument("images", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
def terminal_scan(home: Path, images: tuple[Path, ...]) -> None:
    """Check in from pictures of cards, as the camera would; one JSON line per image."""
    terminal_cli.scan_command(home, images)


@terminal_group.command("run")
@terminal_cli.HOME
@click.option("--camera", type=int, default=None, help="Camera index (/dev/videoN); default 0.")
@click.option("--clip", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="A video clip instead of a camera (looped).")
@click.option("--port", type=int, default=None, help="Kiosk page port (default from config).")
@click.option("--allow-plain-http", is_flag=True, envvar="QATYS_ALLOW_PLAIN_HTTP",
              help="At first boot, accept an enrolment code naming an http:// server on "
                   "another machine (labs only).")
def terminal_run(home: Path, camera: int | None, clip: Path | None, port: int | None,
                 allow_plain_http: bool) -> None:
    """The kiosk: reads codes from the camera, shows the result page on 127.0.0.1."""
    terminal_cli.run_command(home, camera, clip, port, allow_plain_http)


@terminal_group.command("selfcheck")
@terminal_cli.HOME
@click.option("--expect-version", default=None, help="Fail unless this software is that version.")
@click.option("--kiosk", is_flag=True, help="Also require the running kiosk to answer.")
def terminal_selfcheck(home: Path, expect_version: str | None, kiosk: bool) -> None:
    """Can this software run this terminal? (store, settings, decoders; exit 0 or 1)"""
    terminal_cli.selfcheck_command(home, expect_version, kiosk)


@terminal_group.command("config")
@terminal_cli.HOME
@click.option("--validate", "validate_only", is_flag=True,
              help="Only check terminal.toml: exit 0, or 2 naming what is wrong.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change a setting (TOML value, e.g. gpio_green_led=17); checked first.")
def terminal_config(home: Path, validate_only: bool, settings: tuple[str, ...]) -> None:
    """The terminal's typed settings (terminal.toml): show, validate or change them."""
    terminal_cli.config_command(home, validate_only, settings)


@terminal_group.command("set-pin")
@terminal_cli.HOME
@click.option("--pin", prompt="Staff PIN (4-12 digits)", hide_input=True,
              confirmation_prompt=True, help="Asked for when not given.")
def terminal_set_pin(home: Path, pin: str) -> None:
    """Set the staff PIN that opens manual entry on the kiosk screen."""
    terminal_cli.set_pin_command(home, pin)


@cli.group("face")
def face_group() -> None:
    """Face check-in on a terminal, only for children with consent (QR always works too)."""


_IMAGES = click.argument("images", nargs=-1, required=True,
                         type=click.Path(dir_okay=False, path_type=Path))
_SEQUENCE = click.option("--sequence", is_flag=True,
                         help="The pictures are frames of one person at the door: a match "
                              "needs a blink or head turn across them, as at the kiosk.")


@face_group.command("enroll")
@terminal_cli.HOME
@click.option("--child", "child_id", required=True, help="Child id from the roster.")
@click.option("--liveness", is_flag=True,
              help="Require a blink or head turn across the pictures (the kiosk always does).")
@_IMAGES
def face_enroll(home: Path, child_id: str, liveness: bool, images: tuple[Path, ...]) -> None:
    """Enrol a child's face from pictures (consent must be in force); one JSON line."""
    from terminal.faces import cli as face_cli

    face_cli.enroll_command(home, child_id, images, liveness)


@face_group.command("identify")
@terminal_cli.HOME
@_SEQUENCE
@_IMAGES
def face_identify(home: Path, sequence: bool, images: tuple[Path, ...]) -> None:
    """Who is in each picture: match, unknown, uncertain, no_face or spoof (JSON lines)."""
    from terminal.faces import cli as face_cli

    face_cli.identify_command(home, images, sequence)


@face_group.command("scan")
@terminal_cli.HOME
@_SEQUENCE
@_IMAGES
def face_scan(home: Path, sequence: bool, images: tuple[Path, ...]) -> None:
    """Check in by face from pictures, as the camera would (method face); JSON lines."""
    from terminal.faces import cli as face_cli

    face_cli.scan_command(home, images, sequence)


@face_group.command("withdraw")
@terminal_cli.HOME
@click.option("--child", "child_id", required=True, help="Child id from the roster.")
@click.option("--by", default="", help="Who took the withdrawal at the terminal.")
def face_withdraw(home: Path, child_id: str, by: str) -> None:
    """A parent withdraws face consent at the terminal: erase here now, tell the server."""
    from terminal.faces import cli as face_cli

    face_cli.withdraw_command(home, child_id, by)


@face_group.command("list")
@terminal_cli.HOME
def face_list(home: Path) -> None:
    """The face templates on this terminal (JSON lines; children named only when unlocked)."""
    from terminal.faces import cli as face_cli

    face_cli.list_command(home)


terminal_group.add_command(provisioning_cli.token_command)
terminal_group.add_command(provisioning_cli.revoke_command)
cli.add_command(server_cli.server_group)
cli.add_command(server_cli.events_group)
cli.add_command(provisioning_cli.kindergarten_group)
cli.add_command(provisioning_cli.roster_group)
cli.add_command(provisioning_cli.unlock_card_group)
cli.add_command(provisioning_cli.card_group)
cli.add_command(money_cli.closure_group)
cli.add_command(money_cli.absence_group)
cli.add_command(money_cli.tabel_command)
cli.add_command(money_cli.funding_group)
cli.add_command(queue_core_cli.queue_core_group)
cli.add_command(accounts_cli.user_group)
cli.add_command(guardians_cli.guardian_group)
cli.add_command(consent_cli.consent_group)


def _add_demo() -> None:
    from qatys.demo import demo_group

    cli.add_command(demo_group)


_add_demo()


def main() -> None:
    cli()
