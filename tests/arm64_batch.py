"""Run inside the arm64 Debian system by the installed release's own Python (it is copied
there: nothing of tests/ is installed), so that what runs under emulation is one process
that loads Python and the native wheels once.

    /opt/qatys/current/bin/python arm64_batch.py STEPS.json ANSWERS.json

Steps (a JSON list), each one of:

* ``{"machine": true}``: platform.machine() and, for each native module, the file it was
  loaded from (the host checks with ``file`` that it is an aarch64 build);
* ``{"phone_picture": {...}}``: a phone's screen showing its code for the current 30-second
  window, signed here, just before it is scanned (a code is good for a minute only, and the
  steps before it take longer than that under emulation);
* ``{"qatys": [args...], "env": {...}}``: a ``qatys`` command, as click runs it.

Standard library and the installed release only.
"""

from __future__ import annotations

import base64
import gc
import importlib
import importlib.util
import json
import logging
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

NATIVE = ["numpy", "cv2", "zxingcpp", "dlib", "cryptography.hazmat.bindings._rust",
          "PIL._imaging", "pyzbar.pyzbar", "_cffi_backend", "markupsafe._speedups", "cbor2"]
"""The compiled modules the terminal (and the wheels it brings) load."""

SERVER_ONLY = ["sqlalchemy", "gevent", "psycopg", "segno", "fpdf", "alembic"]
"""Packages of the server's extra: a terminal's release must not carry them."""


def machine() -> dict[str, Any]:
    loaded: dict[str, Any] = {}
    for name in NATIVE:
        started = time.monotonic()
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # reported: the test names the module that did not load
            loaded[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        loaded[name] = {"file": getattr(module, "__file__", None),
                        "seconds": round(time.monotonic() - started, 2)}
    carried = [name for name in SERVER_ONLY if importlib.util.find_spec(name) is not None]
    return {"machine": platform.machine(), "python": platform.python_version(),
            "modules": loaded, "server_packages": carried}


def phone_picture(spec: dict[str, Any]) -> dict[str, Any]:
    """A guardian's phone-code screen, drawn in here so that its time window is the one the
    scan after it sees; with OpenCV's QR encoder, the terminal's own packages (segno, which
    the cards use, is the server's)."""
    import cv2
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from protocol import phone

    key = serialization.load_pem_private_key(spec["private_key"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    window = phone.window_at(time.time())
    message = phone.code_message(spec["key_id"], spec["child"], window)
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    binding = base64.b64decode(spec["binding"])
    text = (f"QP1:{spec['key_id']}:{spec['child']}:{window}:{spec['serial']}:"
            f"{phone.b64url(binding)}:{phone.b64url(signature)}")
    params = cv2.QRCodeEncoder.Params()
    params.correction_level = cv2.QRCODE_ENCODER_CORRECT_LEVEL_M
    modules = cv2.QRCodeEncoder.create(params).encode(text)
    quiet = cv2.copyMakeBorder(modules, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=255)
    screen = cv2.resize(quiet, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    if not cv2.imwrite(spec["out"], screen):
        raise OSError(f"could not write {spec['out']}")
    return {"window": window}


def qatys(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    from click.testing import CliRunner

    from qatys.cli import cli

    umask = os.umask(0o022)
    os.umask(umask)
    outcome = CliRunner().invoke(cli, args, env=env)
    os.umask(umask)
    logger = logging.getLogger("qatys")
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()
    gc.collect()
    stderr = outcome.stderr
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        stderr += "".join(traceback.format_exception(outcome.exception))
    return {"code": outcome.exit_code, "stdout": outcome.stdout, "stderr": stderr[-3000:]}


def main() -> int:
    steps = json.loads(Path(sys.argv[1]).read_text())
    answers: list[dict[str, Any]] = []
    for step in steps:
        started = time.monotonic()
        try:
            if "machine" in step:
                answer = machine()
            elif "phone_picture" in step:
                answer = phone_picture(step["phone_picture"])
            else:
                answer = qatys(step["qatys"], step.get("env", {}))
        except Exception as exc:  # reported to the host, which fails with it
            answer = {"error": "".join(traceback.format_exception(exc))[-3000:]}
        answer["seconds"] = round(time.monotonic() - started, 1)
        answers.append({"step": step, **answer})
        Path(sys.argv[2]).write_text(json.dumps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
