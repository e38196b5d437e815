"""The running kiosk: camera codes become check-ins, results are pushed to the screen,
pending events are synced in the background, and the screen learns whether it is online."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2

from protocol.events import Method
from protocol.health import CameraState
from qatys import __version__
from qatys.logs import log
from terminal import recovery, storage_guard
from terminal.capture.pipeline import CapturePipeline
from terminal.capture.sources import Frame
from terminal.checkin import CheckinRequest, CheckinService, DoorResult, parse_direction
from terminal.errors import CheckinRefused, ServerRefused, TerminalError
from terminal.home import Terminal
from terminal.kiosk.face_watch import FaceWatch
from terminal.kiosk.pin import PinGuard, PinVerdict
from terminal.kiosk.texts import relation_words, say
from terminal.outages import OutageWatch
from terminal.scan import ScanService
from terminal.signals import Signals
from terminal.sync import Syncer

logger = logging.getLogger("qatys.terminal.kiosk")


def sse_message(kind: str, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class Broadcaster:
    """Server-sent events to every open kiosk page; a slow page loses old messages, not new."""

    def __init__(self) -> None:
        self._subscribers: list[queue.Queue[str]] = []
        self._lock = threading.Lock()

    def subscribe(self) -> queue.Queue[str]:
        inbox: queue.Queue[str] = queue.Queue(maxsize=50)
        with self._lock:
            self._subscribers.append(inbox)
        return inbox

    def unsubscribe(self, inbox: queue.Queue[str]) -> None:
        with self._lock:
            if inbox in self._subscribers:
                self._subscribers.remove(inbox)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        message = sse_message(kind, data)
        with self._lock:
            for inbox in self._subscribers:
                while True:
                    try:
                        inbox.put_nowait(message)
                        break
                    except queue.Full:
                        with contextlib.suppress(queue.Empty):
                            inbox.get_nowait()


@dataclass
class SyncStatus:
    online: bool | None = None
    last_sync_us: int | None = None
    message: str = ""
    """Why the last sync failed: the server's refusal code, or the kind of network error."""


class Kiosk:
    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.scans = ScanService(terminal)
        self.checkins = CheckinService(terminal)
        self.events = Broadcaster()
        self.sync_status = SyncStatus()
        self.pin = PinGuard(terminal.config.staff_pin_hash)
        self.pipeline: CapturePipeline | None = None
        self._stop = threading.Event()
        self._sync_now = threading.Event()
        self._sync_thread = threading.Thread(target=self._sync_loop, name="qatys-sync",
                                             daemon=True)
        self.signals = _signals(terminal, self.staff_button)
        self.outages = OutageWatch(terminal)
        self.faces = FaceWatch(self)
        self._recovering = threading.Lock()

    # --- results -------------------------------------------------------------

    def on_code(self, text: str, frame: Frame) -> None:
        """Called by the capture pipeline for every new code it reads."""
        self.recover_if_asked()
        result = self.scans.scan(text)
        self.show(result, frame.captured_ns)

    def show(self, result: dict[str, Any], captured_ns: int | None = None) -> None:
        if result["result"] == DoorResult.ACCEPTED:
            key = _green_words(result)
            screen = {"colour": "green", "first_name": result.get("first_name", ""),
                      "receipt": result.get("receipt", ""), "direction": result.get("direction")}
            relation = relation_words(str(result.get("relation", "")))
            if relation is not None and result.get("direction") == "out":
                screen["relation"] = relation  # who collects: a grandmother … (no name)
        elif result["result"] == DoorResult.UNLOCKED:
            key, screen = "unlocked", {"colour": "green", "first_name": ""}
        elif result["result"] == DoorResult.ENROLLED:
            key, screen = "face_enrolled", {"colour": "green", "first_name": ""}
        else:
            key, screen = str(result.get("reason", "")), {"colour": "red", "first_name": ""}
        screen["text"] = say(key)
        screen["result"] = result["result"]
        if self.signals is not None:
            (self.signals.accepted if screen["colour"] == "green" else self.signals.refused)()
        if captured_ns is not None:  # monotonic clock of this process: for latency figures
            screen["captured_ns"] = captured_ns
            screen["latency_ms"] = round((time.monotonic_ns() - captured_ns) / 1e6, 1)
        self.events.publish("scan", screen)
        if result.get("reason") == "store_damaged":
            self.recover_if_asked()
        if str(result.get("reason", "")).startswith(("storage_", "store_")):
            self._publish_status()  # the door page's banner says it until it is fixed
        self._sync_now.set()  # deliver the new event soon, not at the next interval

    def staff_button(self) -> None:
        """The staff button by the door: the screen opens manual entry (the PIN still asked)."""
        log(logger, "staff_button.pressed")
        self.events.publish("staff", {"manual_entry": bool(self.terminal.config.staff_pin_hash)})

    def staff_pin(self, pin: str) -> dict[str, Any] | None:
        """None when the staff PIN is right; otherwise the refusal to answer with."""
        verdict = self.pin.check(pin)
        if verdict == PinVerdict.OK:
            return None
        key = "pin_locked" if verdict == PinVerdict.LOCKED else "pin_wrong"
        log(logger, "staff.pin_refused", logging.WARNING, reason=key)
        return {"result": DoorResult.REJECTED, "reason": key, "text": say(key)}

    def face_enrolment(self, pin: str, child_id: str) -> dict[str, Any]:
        """Staff start enrolling a child's face (consent checked first); the result shows on
        the screen once the frames are in."""
        return self.staff_pin(pin) or self.faces.begin_enrolment(child_id)

    def face_withdrawal(self, pin: str, child_id: str, by: str) -> dict[str, Any]:
        """A parent withdraws face consent at the door: erased here at once."""
        refused = self.staff_pin(pin)
        if refused is not None:
            return refused
        result = self.faces.withdraw(child_id, by or "kiosk staff")
        prompt = result["reason"] if result["result"] == DoorResult.REJECTED \
            else "face_withdrawn"
        self.events.publish("face", {"prompt": prompt, "text": result["text"]})
        return result

    def manual(self, pin: str, child_id: str, reason: str, direction: str | None) -> dict[
            str, Any]:
        refused = self.staff_pin(pin)
        if refused is not None:
            return refused
        self.recover_if_asked()
        try:
            result = self.checkins.checkin(CheckinRequest(child_id, Method.MANUAL,
                                                          reason=reason, by="kiosk staff",
                                                          direction=parse_direction(direction)))
        except CheckinRefused as exc:
            result = {"result": DoorResult.REJECTED, "reason": exc.reason, "message": str(exc)}
        self.show(result)
        return result

    # --- status and sync -------------------------------------------------------

    def status(self) -> dict[str, Any]:
        counts = self.terminal.store.counts()
        capture = self.pipeline.stats.snapshot() if self.pipeline else {}
        return {"mode": "door", "version": __version__,
                "pending": counts.pending, "online": self.sync_status.online,
                "last_sync_us": self.sync_status.last_sync_us,
                "sync_problem": self.sync_status.message, "revoked": counts.revoked,
                "roster": "unlocked" if self.terminal.roster() is not None else "locked",
                "camera_error": capture.get("source_error", ""),
                "frames_dropped": capture.get("frames_dropped", 0),
                "face_looks_skipped": self.faces.looks_skipped,
                "kindergarten": self.terminal.config.kindergarten_name
                or self.terminal.config.kindergarten,
                "manual_entry": self.pin.enabled,
                "faces": self.faces.enrolled_children(),
                **self.storage_status()}

    def recover_if_asked(self) -> None:
        """Another process (selfcheck, a CLI command) found the store damaged while this one
        holds it open: it left the marker, this process recovers."""
        if (self.terminal.home / recovery.NEEDED).exists():
            with self._recovering:
                if (self.terminal.home / recovery.NEEDED).exists():
                    self._recover_store()

    def _recover_store(self) -> None:
        """SQLite found the store corrupt while running: recover it in this process (the
        kiosk never exits on a fault; the next check-in goes to the recovered store)."""
        try:
            found = self.terminal.recover_store()
        except Exception:  # never let the door die: the next start recovers (the marker)
            logger.exception("store.recovery_failed")
            return
        log(logger, "kiosk.store_recovered", logging.ERROR,
            lost=0 if found is None else found.lost_count)

    def storage_status(self) -> dict[str, Any]:
        """``storage``: "" or the stable code of the storage's state (``storage_low``,
        ``storage_full``, ``storage_readonly``, ``store_damaged``) and its words, for the door
        page's banner."""
        try:
            problem = self.terminal.storage.problem() \
                or self.terminal.damage_notice(time.time_ns() // 1000)
        except OSError:
            problem = "storage_readonly"
        except sqlite3.DatabaseError:
            problem = "store_damaged"
        return {"storage": problem, "storage_text": say(problem) if problem else None}

    def start_sync(self) -> None:
        self._sync_thread.start()
        self.faces.start()

    def stop(self) -> None:
        """Stop capture, then let a sync in flight finish before the store is closed."""
        self._stop.set()
        self._sync_now.set()
        self.faces.stop()
        if self.pipeline is not None:
            self.pipeline.stop()
        if self._sync_thread.is_alive():
            self._sync_thread.join(timeout=self.terminal.config.request_timeout_seconds + 5)
        if self.signals is not None:
            self.signals.close()

    def _camera_state(self) -> CameraState:
        if self.pipeline is None:
            return CameraState.NONE
        if self.pipeline.stats.source_error:
            return CameraState.FAILED
        return CameraState.ENDED if self.pipeline.stats.source_ended else CameraState.OK

    def _after_sync(self) -> None:
        try:
            self.terminal.storage.after_sync()
        except Exception:  # the guard's own trouble must not stop the sync thread
            logger.exception("storage.after_sync_failed")

    def _publish_status(self) -> None:
        try:
            self.events.publish("status", self.status())
        except sqlite3.DatabaseError as exc:
            if not recovery.is_corruption(exc):
                logger.exception("status.failed")
                return
            recovery.mark_needed(self.terminal.home)  # recovered at the next scan or sync
            log(logger, "status.store_damaged", logging.ERROR, error=str(exc))
        except Exception:
            logger.exception("status.failed")

    def _pause(self, seconds: float) -> None:
        """The sync's backoff sleep, cut short when the kiosk stops."""
        self._stop.wait(seconds)

    def _sync_loop(self) -> None:
        interval = self.terminal.config.sync_interval_seconds
        while not self._stop.is_set():
            self.recover_if_asked()
            camera = self._camera_state()
            self.outages.camera(camera)
            try:
                report = Syncer(self.terminal, camera=camera, sleep=self._pause).sync()
                self.sync_status.online = True
                self.sync_status.message = ("answer_refused:" + ",".join(report.refused)
                                            if report.refused else "")
                self.sync_status.last_sync_us = time.time_ns() // 1000
            except ServerRefused as exc:
                self.sync_status.online, self.sync_status.message = True, exc.code
            except TerminalError as exc:
                self.sync_status.online, self.sync_status.message = False, type(exc).__name__
            except (sqlite3.Error, OSError) as exc:  # a full or read-only card: keep going
                fault = storage_guard.fault_of(exc, self.terminal.home)
                self.sync_status.message = str(fault) if fault else type(exc).__name__
                log(logger, "sync.failed", logging.ERROR, problem=self.sync_status.message,
                    error=f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # never let the sync thread die: the door would go stale
                self.sync_status.message = type(exc).__name__
                logger.exception("sync.crashed")
            self._after_sync()
            self.outages.network(bool(self.sync_status.online), self.sync_status.message)
            self._publish_status()
            self._sync_now.wait(interval)
            self._sync_now.clear()


def _signals(terminal: Terminal, on_button: Callable[[], None]) -> Signals | None:
    """The door's lights and tone, or None: none configured, or no GPIO on this machine
    (logged; the screen and its sound still say everything)."""
    try:
        signals = Signals(terminal.config, on_button)
    except Exception as exc:  # gpiozero raises several kinds when the pins are not there
        log(logger, "signals.unavailable", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
        return None
    return signals if signals.active else None


def jpeg_of(frame: Frame | None, width: int = 480) -> bytes | None:
    """A small JPEG of the newest frame for the preview (never stored anywhere)."""
    if frame is None:
        return None
    height = int(frame.gray.shape[0] * width / frame.gray.shape[1])
    small = cv2.resize(frame.gray, (width, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 60])
    return bytes(data) if ok else None


def _green_words(result: dict[str, Any]) -> str:
    """The words of an accepted check-in: arrival or departure, also when it repeats one
    already recorded (a parent who scans twice reads what the door has, not only that
    something is)."""
    direction = str(result.get("direction") or "")
    if direction not in ("in", "out"):
        return "repeat" if result.get("repeat") else "accepted"
    return f"repeat_{direction}" if result.get("repeat") else direction
