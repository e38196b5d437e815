"""Enrolment: the terminal makes its own keys and registers them with a one-time token.

The token names the fingerprint of the server's signing key; a server that
answers with another key is refused, so the terminal pins the right server.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path

from protocol import crypto, enrolment
from protocol.errors import TokenError
from qatys import __version__
from qatys.logs import log
from terminal import config as config_file
from terminal import keys as key_file
from terminal.client import ServerClient
from terminal.config import TerminalConfig
from terminal.errors import ServerRefused, SetupError

logger = logging.getLogger("qatys.terminal.enrol")


def enrol(home: Path, server_url: str, token_text: str,
          client: ServerClient | None = None) -> TerminalConfig:
    home = Path(home)
    if (home / config_file.CONFIG_FILE).exists():
        existing = config_file.load(home)
        raise SetupError(f"{home} is already enrolled as {existing.terminal_id}")
    try:
        token = enrolment.parse_token(token_text)
    except TokenError as exc:
        raise SetupError(str(exc)) from exc
    keys = key_file.generate()
    proof = crypto.sign(keys.sign_seed, enrolment.proof_input(
        token_text.strip(), keys.sign_public, keys.box_public))
    client = client or ServerClient(server_url)
    answer = client.enrol({
        "token": token_text.strip(),
        "sign_pub": base64.b64encode(keys.sign_public).decode(),
        "box_pub": base64.b64encode(keys.box_public).decode(),
        "proof": base64.b64encode(proof).decode(),
        "software_version": __version__,
    })
    try:
        server_sign = base64.b64decode(answer["server_sign_pub"], validate=True)
        server_box = base64.b64decode(answer["server_box_pub"], validate=True)
        terminal_id = str(answer["terminal_id"])
        kindergarten = str(answer["kindergarten"])
    except (KeyError, binascii.Error) as exc:
        raise ServerRefused("bad_answer", "the server's enrolment answer is incomplete") from exc
    if crypto.fingerprint(server_sign) != token.server_fingerprint:
        raise ServerRefused("server_key_mismatch",
                            "the server's key does not match the token's fingerprint; "
                            "this is not the server that issued the token")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    key_file.save(home, key_file.TerminalKeys(keys.sign_seed, keys.box_private,
                                              server_sign, server_box))
    config = TerminalConfig(server_url=server_url, terminal_id=terminal_id,
                            kindergarten=kindergarten,
                            kindergarten_name=str(answer.get("kindergarten_name", "")))
    config_file.save(home, config)
    log(logger, "terminal.enrolled", terminal=terminal_id, kindergarten=kindergarten)
    return config
