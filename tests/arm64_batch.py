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
          "PIL._imaging", "pyzbar.pyzbar", "gevent._gevent_c_hub_local", "_cffi_backend",
          "psycopg"]
"""The compiled modules the terminal (and the wheels it brings) load."""


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
    return {"machine": platform.machine(), "python": platform.python_version(),
            "modules": loaded}


def phone_picture(spec: dict[str, Any]) -> dict[str, Any]:
    import segno
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
    segno.make(text, error="m").save(spec["out"], scale=6, border=4)
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
