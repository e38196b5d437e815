"""``qatys terminal …``: the commands that run on the terminal (``--home TDIR``), declared
here (the ``qatys`` command adds the server side's ``token`` and ``revoke`` to the same group;
``qatys face …`` is declared in terminal/faces/commands.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import click

from protocol.events import Method
from qatys.cliutil import EXIT_BAD_INPUT, emit, fail
from qatys.logs import configure as configure_logs
from qatys.sentences import Sentence, echo, told
from qatys.timeutil import iso_utc, local_date, now_us
from terminal.checkin import CheckinRequest, CheckinService, DoorResult, parse_direction
from terminal.config import CONFIG_FILE, TerminalConfig
from terminal.consent.state import consent_states
from terminal.enrol import enrol
from terminal.errors import (
    AnswerRefused,
    CheckinRefusal,
    CheckinRefused,
    ServerRefused,
    StorageFault,
    TerminalError,
    UnlockRefused,
)
from terminal.home import Terminal, open_terminal
from terminal.sync import AnswerKind, RosterStep, Syncer, SyncResult

if TYPE_CHECKING:  # the camera code (OpenCV) loads only for the commands that use it
    from terminal.capture.sources import FrameSource

HOME = click.option("--home", "home", required=True,
                    type=click.Path(file_okay=False, path_type=Path),
                    help="Terminal home directory (config, keys, database, logs).")


@click.group("terminal")
def terminal_group() -> None:
    """Terminals: tokens and revocation (server side), enrolment, check-ins and sync."""


def _enrolled(kindergarten: str, step: RosterStep) -> Sentence:
    """What `enroll` says of the roster it fetched right after enrolment."""
    if step == RosterStep.UPDATED:
        return Sentence("enrolled in kindergarten %(kindergarten)s; roster fetched",
                        kindergarten=kindergarten)
    if step == RosterStep.UNCHANGED:
        return Sentence("enrolled in kindergarten %(kindergarten)s; roster unchanged",
                        kindergarten=kindergarten)
    if step == RosterStep.FAILED:
        return Sentence("enrolled in kindergarten %(kindergarten)s; the roster could not be "
                        "opened", kindergarten=kindergarten)
    return Sentence("enrolled in kindergarten %(kindergarten)s; the roster's answer was "
                    "refused", kindergarten=kindergarten)


@contextmanager
def opened(home: Path) -> Iterator[Terminal]:
    try:
        terminal = open_terminal(home)
    except TerminalError as exc:
        fail(told(exc), exc.exit_code)
    try:
        yield terminal
    finally:
        terminal.close()


@terminal_group.command("enroll")
@HOME
@click.option("--server", required=True, help="Server URL, e.g. http://127.0.0.1:8080")
@click.option("--token", required=True, help="One-time token from `qatys terminal token`.")
@click.option("--allow-plain-http", is_flag=True,
              help="Accept an http:// server on another machine (labs only; stored as the "
                   "setting allow_plain_http).")
def enroll_command(home: Path, server: str, token: str, allow_plain_http: bool = False) -> None:
    """Enrol this terminal; prints the terminal id on the last line (exit 2 when refused,
    also when the answer is not signed by the token's server).
    \f
    Make this terminal's keys, enrol with a one-time token, print the terminal id. An
    answer not signed by the token's server (or altered) exits 2 and writes nothing."""
    try:
        config = enrol(home, server, token, allow_plain_http=allow_plain_http)
    except TerminalError as exc:
        fail(told(exc), exc.exit_code)
    with opened(home) as terminal:
        syncer = Syncer(terminal)
        try:
            step = syncer.refresh_roster()
            syncer.refresh_door()
            said = _enrolled(config.kindergarten, step)
        except AnswerRefused as exc:
            syncer.refused_answer(AnswerKind.ROSTER, exc)
            said = Sentence("enrolled in kindergarten %(kindergarten)s; the roster's answer was "
                            "refused (%(reason)s)", kindergarten=config.kindergarten,
                            reason=exc.reason)
        except TerminalError as exc:
            said = Sentence("enrolled in kindergarten %(kindergarten)s; roster not fetched "
                            "(%(problem)s)", kindergarten=config.kindergarten,
                            problem=told(exc))
    echo(said, err=True)
    click.echo(config.terminal_id)


@terminal_group.command("checkin")
@HOME
@click.option("--child", required=True, help="Child id from the roster.")
@click.option("--manual", is_flag=True, help="A staff entry (required: scans use the camera).")
@click.option("--reason", default="", help="Why the entry is manual (required with --manual).")
@click.option("--by", default="", help="Who made the entry.")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None,
              help="Force arrival or departure instead of the door logic.")
def checkin_command(home: Path, child: str, manual: bool, reason: str, by: str,
                    direction: str | None) -> None:
    """Record a manual check-in; one JSON line, printed only after commit."""
    if not manual:
        fail(Sentence("only --manual entries are recorded from the command line; scans come "
                      "from the camera"), EXIT_BAD_INPUT)
    try:
        terminal = open_terminal(home)
    except StorageFault as exc:  # a full or read-only card: the same refusal as the door's
        emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)})
        raise SystemExit(exc.exit_code) from None
    except TerminalError as exc:
        fail(told(exc), exc.exit_code)
    try:
        try:
            result = CheckinService(terminal).checkin(
                CheckinRequest(child, Method.MANUAL, reason=reason, by=by,
                               direction=parse_direction(direction)))
        except CheckinRefused as exc:
            emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)})
            raise SystemExit(exc.exit_code) from None
        emit(result)
    finally:
        terminal.close()


@terminal_group.command("sync")
@HOME
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def sync_command(home: Path, quiet: bool) -> None:
    """Push pending events until acknowledged; exit 0 ok, 3 unreachable, 4 refused, 5 an
    answer not believed (named in "refused").
    \f
    Push every pending event and take what the server sends back. One JSON line; exit 0,
    3 unreachable, 4 refused by the server, 5 when an answer was not believed (``refused``
    names which: time, ack, roster, door, faces, health)."""
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if not quiet:
            rate = done / max(time.monotonic() - started, 1e-6)
            echo(Sentence("sync: %(done)s/%(total)s events acknowledged (%(rate)s/s)",
                          done=done, total=total, rate=f"{rate:,.0f}"), err=True)

    with opened(home) as terminal:
        syncer = Syncer(terminal)
        try:
            try:
                report = syncer.sync(progress)
            finally:
                terminal.storage.after_sync()  # acknowledged events freed their pages
        except TerminalError as exc:
            counts = terminal.store.counts()
            emit({"result": SyncResult.REFUSED if isinstance(exc, ServerRefused)
                  else SyncResult.UNREACHABLE,
                  "code": getattr(exc, "code", "unreachable"), "message": str(exc),
                  "pending": counts.pending, "acked_seq": counts.acked_seq,
                  "refused": syncer.refused})
            raise SystemExit(exc.exit_code) from None
        emit({"result": SyncResult.OK, "sent": report.sent_events, "batches": report.batches,
              "acked_seq": report.acked_seq, "roster": report.roster, "faces": report.faces,
              "pending": terminal.store.counts().pending, "refused": list(report.refused)})
    if report.refused:
        raise SystemExit(AnswerRefused.exit_code)


@terminal_group.command("unlock")
@HOME
@click.option("--card", required=True,
              help="Text of the director's unlock card QR (QUL1-…).")
def unlock_command(home: Path, card: str) -> None:
    """Open the roster offline (greeting by name) with a director's unlock card.
    \f
    Unlock the roster with a director's card; one JSON line (exit 2 when refused)."""
    with opened(home) as terminal:
        try:
            names = terminal.unlock(card)
        except UnlockRefused as exc:
            emit({"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)})
            raise SystemExit(exc.exit_code) from None
    emit({"result": DoorResult.UNLOCKED, "children": names})


def _codes_in(images: tuple[Path, ...]) -> Iterator[tuple[Path, list[str] | None, str]]:
    """Each picture with the QR texts the still-picture reader finds in it, or None and
    why when it is not a readable picture."""
    from terminal.capture.decoders import default_reader, read_image

    reader = default_reader(still=True)
    for image in images:
        try:
            yield image, reader.read(read_image(str(image))), ""
        except ValueError as exc:
            yield image, None, str(exc)


@terminal_group.command("decode")
@click.argument("images", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
def decode_command(images: tuple[Path, ...]) -> None:
    """QR texts found in each image (no verification): one JSON line per image.
    \f
    Raw QR texts found in each image, no verification; exit 2 if an image is unreadable."""
    failed = False
    for image, payloads, problem in _codes_in(images):
        if payloads is None:
            failed = True
            emit({"image": str(image), "payloads": [], "error": problem})
        else:
            emit({"image": str(image), "payloads": payloads})
    if failed:
        raise SystemExit(EXIT_BAD_INPUT)


SCAN_FIELDS = ("event_id", "child_id", "direction", "reason")


@terminal_group.command("scan")
@HOME
@click.argument("images", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
def scan_command(home: Path, images: tuple[Path, ...]) -> None:
    """Check in from pictures of cards, as the camera would; one JSON line per image.
    \f
    Read each image and act on the first code found; one JSON line per image, each
    accepted line only after its commit. Exit 0 when nothing was refused, 2 otherwise
    (4 when the terminal was revoked)."""
    from terminal.scan import ScanRefusal, ScanService

    exit_code = 0
    with opened(home) as terminal:
        service = ScanService(terminal)
        for image, texts, problem in _codes_in(images):
            result: dict[str, object]
            if texts is None:
                result = {"result": DoorResult.REJECTED,
                          "reason": ScanRefusal.UNREADABLE_IMAGE, "message": problem}
            else:
                result = service.scan(texts[0]) if texts else {"result": DoorResult.NONE}
            if result["result"] == DoorResult.REJECTED:
                exit_code = max(exit_code, 4 if result["reason"] == CheckinRefusal.TERMINAL_REVOKED
                                else EXIT_BAD_INPUT)
            emit({"image": str(image), **{k: None for k in SCAN_FIELDS}, **result})
    if exit_code:
        raise SystemExit(exit_code)


@terminal_group.command("run")
@HOME
@click.option("--camera", type=int, default=None, help="Camera index (/dev/videoN); default 0.")
@click.option("--clip", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="A video clip instead of a camera (looped).")
@click.option("--port", type=int, default=None, help="Kiosk page port (default from config).")
@click.option("--allow-plain-http", is_flag=True, envvar="QATYS_ALLOW_PLAIN_HTTP",
              help="At first boot, accept an enrolment code naming an http:// server on "
                   "another machine (labs only).")
def run_command(home: Path, camera: int | None, clip: Path | None, port: int | None,
                allow_plain_http: bool = False) -> None:
    """The kiosk: reads codes from the camera, shows the result page on 127.0.0.1.
    \f
    The kiosk: camera or clip, the door, the page on 127.0.0.1, background sync. A home
    with no enrolment first shows the "scan the enrolment code" screen (first boot)."""
    from terminal.kiosk.fault_screen import open_or_wait
    from terminal.kiosk.first_boot import FIRST_BOOT_PORT, run_first_boot
    from terminal.kiosk.run import open_source, run_kiosk

    def source() -> FrameSource:
        """Opened for each screen: the first-boot screen closes its source when done."""
        try:
            return open_source(camera, clip)
        except TerminalError as exc:
            fail(told(exc), exc.exit_code)

    if not (home / CONFIG_FILE).exists():
        configure_logs()  # structured lines on stderr until the home has its log file
        echo(Sentence("first boot: enrolment screen on %(url)s",
                      url=f"http://127.0.0.1:{port or FIRST_BOOT_PORT}/"), err=True)
        if not run_first_boot(home, source(), port, allow_plain_http=allow_plain_http):
            return
    try:  # a full or read-only card: the fault screen until the store opens, never an exit
        terminal = open_or_wait(home, port)
    except TerminalError as exc:
        fail(told(exc), exc.exit_code)
    if terminal is None:
        return
    try:
        url = f"http://127.0.0.1:{port or terminal.config.kiosk_port}/"
        echo(Sentence("kiosk on %(url)s; Ctrl-C stops", url=url), err=True)
        run_kiosk(terminal, source(), port)
    finally:
        terminal.close()


class SelfcheckResult(StrEnum):
    """The ``result`` ``qatys terminal selfcheck`` prints (docs/cli.md): exit 0 or 1."""
    OK = "ok"
    FAILED = "failed"
    """``problems`` says what: ``qatys-update`` then switches back."""


@terminal_group.command("selfcheck")
@HOME
@click.option("--expect-version", default=None, help="Fail unless this software is that version.")
@click.option("--kiosk", is_flag=True, help="Also require the running kiosk to answer.")
def selfcheck_command(home: Path, expect_version: str | None, kiosk: bool) -> None:
    """Can this software run this terminal? (store, settings, decoders; exit 0 or 1)
    \f
    Can this software run this terminal? Used by ``qatys-update`` after switching releases:
    the store opens and passes SQLite's quick check, the settings validate, the decoders and the
    face models load and, with ``--kiosk``, the screen's programs (cage, Xwayland, Chromium)
    are installed and the running kiosk answers with this version. Exit 0 or 1."""
    from qatys import __version__
    from terminal.capture.decoders import default_reader
    from terminal.health import storage_problem

    problems: list[str] = []
    if expect_version is not None and expect_version != __version__:
        problems.append(f"this is version {__version__}, not {expect_version}")
    default_reader()
    try:  # a release whose face models or dlib wheel do not load must be rolled back
        from terminal.faces import engine  # noqa: F401
    except (ImportError, OSError, RuntimeError) as exc:
        problems.append(f"face check-in does not load: {type(exc).__name__}: {exc}")
    enrolled = (home / CONFIG_FILE).exists()
    port = TerminalConfig.kiosk_port
    storage_level = None
    damaged = None
    if enrolled:
        try:
            terminal = open_terminal(home, log=False)
        except TerminalError as exc:
            problems.append(str(exc))
            storage_level = getattr(exc, "reason", None)
        else:
            port = terminal.config.kiosk_port
            if terminal.store.quick_check() != "ok":
                problems.append("the terminal database fails SQLite's quick check")
            storage = storage_problem(terminal)
            storage_level = terminal.storage.reading().level
            damaged = terminal.store.damage_record()  # recovered (terminal/recovery.py): said
            if storage:
                problems.append(storage)
            terminal.close()
    if kiosk:
        problems.extend(_kiosk_problems(port, __version__))
    emit({"result": SelfcheckResult.FAILED if problems else SelfcheckResult.OK,
          "version": __version__, "enrolled": enrolled, "storage": storage_level,
          "store_damaged": damaged, "problems": problems})
    if problems:
        raise SystemExit(1)


SCREEN_PROGRAMS = ("/usr/bin/cage", "/usr/bin/Xwayland", "/usr/bin/chromium")
"""What qatys-kiosk.service starts (Debian 12's cage does not start without Xwayland)."""


def _kiosk_problems(port: int, version: str) -> list[str]:
    import json
    import os
    import urllib.request

    missing = [p for p in SCREEN_PROGRAMS if not os.access(p, os.X_OK)]
    problems = [f"the kiosk screen cannot start: {', '.join(missing)} not installed"] \
        if missing else []
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
            status = json.loads(answer.read())
    except (OSError, ValueError) as exc:
        return [*problems, f"the kiosk does not answer on port {port}: {type(exc).__name__}"]
    if status.get("mode") == "door" and status.get("version") != version:
        problems.append(f"the kiosk runs version {status.get('version')}, not {version}")
    return problems


@terminal_group.command("config")
@HOME
@click.option("--validate", "validate_only", is_flag=True,
              help="Only check terminal.toml: exit 0, or 2 naming what is wrong.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Change a setting (TOML value, e.g. gpio_green_led=17); checked first.")
def config_command(home: Path, validate_only: bool, settings: tuple[str, ...]) -> None:
    """The terminal's typed settings (terminal.toml): show, validate or change them.
    \f
    Show, check or change the terminal's settings. ``--set key=value`` (TOML values) is
    validated as a whole before anything is written; exit 2 names what is wrong."""
    import tomllib
    from dataclasses import asdict

    from terminal import config as config_file

    try:
        config = config_file.load(home)
        if settings:
            values = asdict(config)
            for item in settings:
                key, _, raw = item.partition("=")
                values[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
            config = config_file.validate(values, "--set")
            config_file.save(home, config)
    except tomllib.TOMLDecodeError as exc:
        fail(Sentence("--set: a value is not TOML (%(problem)s); text needs quotes",
                      problem=exc), EXIT_BAD_INPUT)
        return
    except TerminalError as exc:
        fail(told(exc), exc.exit_code)
        return
    if validate_only and not settings:
        emit({"ok": True, "config": str(home / config_file.CONFIG_FILE)})
        return
    shown = {k: v for k, v in asdict(config).items() if k != "staff_pin_hash"}
    shown["manual_entry"] = bool(config.staff_pin_hash)
    emit(shown)


@terminal_group.command("set-pin")
@HOME
@click.option("--pin", prompt="Staff PIN (4-12 digits)", hide_input=True,
              confirmation_prompt=True, help="Asked for when not given.")
def set_pin_command(home: Path, pin: str) -> None:
    """Set the staff PIN that opens manual entry on the kiosk screen.
    \f
    Store the staff PIN for manual entry at the kiosk (scrypt hash in terminal.toml)."""
    from dataclasses import replace

    from terminal import config as config_file
    from terminal.kiosk.pin import hash_pin

    try:
        stored = hash_pin(pin)
        config = config_file.load(home)
    except ValueError:
        fail(Sentence("a PIN is 4-12 digits"), EXIT_BAD_INPUT)
    except TerminalError as exc:
        fail(told(exc), exc.exit_code)
    config_file.save(home, replace(config, staff_pin_hash=stored))
    echo(Sentence("staff PIN set; manual entry is on at the kiosk"))


@terminal_group.command("consent")
@HOME
def consent_command(home: Path) -> None:
    """Face-check-in consent as this terminal knows it (after its last sync).
    \f
    Face-check-in consent as this terminal knows it: one JSON line per child; exit 2
    while the roster is locked (it travels inside the roster)."""
    with opened(home) as terminal:
        entries = terminal.roster_entries()
        today = local_date(now_us(), terminal.config.zone)
    if entries is None:
        fail(Sentence("the roster is locked: sync with the server or unlock with a director's "
                      "card"))
        return
    for state in consent_states(entries, today):
        emit({"child_id": state.child_id, "status": state.status,
              "until": state.until or None, "record": state.record or None})


@terminal_group.command("status")
@HOME
@click.option("--json", "as_json", is_flag=True, help="One JSON line.")
def status_command(home: Path, as_json: bool) -> None:
    """Pending events, acknowledged sequence number, last sync."""
    with opened(home) as terminal:
        counts = terminal.store.counts()
        retained, pruned = terminal.store.retained()
        behind, behind_us = terminal.store.behind_record()
        status = {
            "terminal_id": terminal.terminal_id,
            "kindergarten": terminal.config.kindergarten,
            "pending": counts.pending,
            "acked_seq": counts.acked_seq,
            "head_seq": counts.head_seq,
            "last_sync": iso_utc(counts.last_sync_us) if counts.last_sync_us else None,
            "revoked": counts.revoked,
            "roster": "unlocked" if terminal.roster() is not None else "locked",
            "server_url": terminal.config.server_url,
            "retained": retained,
            "pruned": pruned,
            "retention_days": terminal.config.retention_days,
            "server_behind": behind,
            "server_behind_at": iso_utc(behind_us) if behind_us else None,
            "store_damaged": terminal.store.damage_record(),
        }
    if as_json:
        emit(status)
    else:
        for key, value in status.items():
            sys.stdout.write(f"{key:>13}: {value}\n")
