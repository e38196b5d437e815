"""systemd's notify protocol (``Type=notify``, ``WatchdogSec=``) without a library.

The kiosk says READY=1 once its page is served, so the Chromium unit starts after it, and
pings WATCHDOG=1 while its web server thread lives; if the pings stop, systemd restarts
the service (and the hardware watchdog restarts a machine whose systemd hangs).
Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable


def notify(message: str) -> bool:
    """Send one notification; False when not run by systemd or the socket is gone."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Half the ``WatchdogSec=`` systemd gave this process, or None without a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


def start_watchdog(alive: Callable[[], bool], stop: threading.Event) -> threading.Thread | None:
    """Ping the watchdog while ``alive()`` says the service works."""
    interval = watchdog_interval()
    if interval is None:
        return None

    def ping() -> None:
        while not stop.wait(interval):
            if alive():
                notify("WATCHDOG=1")

    thread = threading.Thread(target=ping, name="qatys-watchdog", daemon=True)
    thread.start()
    return thread
