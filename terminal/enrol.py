"""Enrolment: the terminal makes its own keys and registers them with a one-time token.

The token names the fingerprint of the server's signing key. The enrolment answer must be
signed by a key with that fingerprint, over this very request (protocol/auth.py); then
everything it carries — the terminal's id, its kindergarten and the server's sealing key,
to which every check-in body will be sealed — is known to come from the server that issued
the token, and those keys are pinned. Any other answer is refused and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any

from protocol import PROTOCOL_VERSION, crypto, enrolment
from protocol.errors import AnswerRefusal, TokenError
from qatys import __version__
from qatys.logs import log
from qatys.sentences import Sentence
from qatys.urls import transport_problem
from terminal import config as config_file
from terminal import keys as key_file
from terminal.client import ServerClient, key_from_header
from terminal.config import TerminalConfig
from terminal.errors import AnswerRefused, PlainHttpRefused, SetupError

logger = logging.getLogger("qatys.terminal.enrol")
EXIT_REFUSED_ANSWER = 2
"""An enrolment answer not from the token's server is bad input for this enrolment (exit 2):
nothing is pinned yet, and the operator needs to check the network and the code."""


def enrol(home: Path, server_url: str, token_text: str, client: ServerClient | None = None,
          *, allow_plain_http: bool = False) -> TerminalConfig:
    home = Path(home)
    if (home / config_file.CONFIG_FILE).exists():
        existing = config_file.load(home)
        raise SetupError(Sentence("%(home)s is already enrolled as %(terminal_id)s", home=home,
                                  terminal_id=existing.terminal_id))
    problem = transport_problem(server_url, allow_plain_http)
    if problem:
        raise PlainHttpRefused(problem)
    try:
        token = enrolment.parse_token(token_text)
    except TokenError as exc:
        raise SetupError(Sentence("this is not an enrolment token: %(problem)s",
                                  problem=exc)) from exc
    keys = key_file.generate()
    proof = crypto.sign(keys.sign_seed, enrolment.proof_input(
        token_text.strip(), keys.sign_public, keys.box_public))
    client = client or ServerClient(server_url)
    signed_by: list[bytes] = []

    def key_check(header: str | None) -> bytes:
        signed_by.append(_token_key(header, token))
        return signed_by[-1]

    try:
        answer = client.enrol({
            "token": token_text.strip(),
            "sign_pub": base64.b64encode(keys.sign_public).decode(),
            "box_pub": base64.b64encode(keys.box_public).decode(),
            "proof": base64.b64encode(proof).decode(),
            "software_version": __version__,
        }, key_check)
        server_sign, server_box, terminal_id, kindergarten = _pinned(answer, signed_by[-1])
    except AnswerRefused as exc:
        log(logger, "terminal.enrol_answer_refused", logging.ERROR, reason=exc.reason)
        raise AnswerRefused(exc.reason, exc.said, EXIT_REFUSED_ANSWER) from exc
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    key_file.save(home, key_file.TerminalKeys(keys.sign_seed, keys.box_private,
                                              server_sign, server_box))
    config = TerminalConfig(server_url=server_url, terminal_id=terminal_id,
                            kindergarten=kindergarten,
                            kindergarten_name=str(answer.get("kindergarten_name", "")),
                            allow_plain_http=allow_plain_http)
    config_file.save(home, config)
    log(logger, "terminal.enrolled", terminal=terminal_id, kindergarten=kindergarten)
    return config


def _token_key(header: str | None, token: enrolment.Token) -> bytes:
    key = key_from_header(header)
    if crypto.fingerprint(key) != token.server_fingerprint:
        raise AnswerRefused(AnswerRefusal.SERVER_KEY_MISMATCH,
                            Sentence("the server's key does not match the token's fingerprint; "
                                     "this is not the server that issued the token"))
    return key


def _pinned(answer: dict[str, Any], signed_by: bytes) -> tuple[bytes, bytes, str, str]:
    """The keys and names a signed enrolment answer gives, checked for form; the signing
    key it names is the one that signed it."""
    try:
        server_sign = base64.b64decode(answer["server_sign_pub"], validate=True)
        server_box = base64.b64decode(answer["server_box_pub"], validate=True)
        terminal_id, kindergarten = answer["terminal_id"], answer["kindergarten"]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise AnswerRefused(AnswerRefusal.MALFORMED,
                            Sentence("the server's enrolment answer is incomplete")) from exc
    if len(server_sign) != 32 or len(server_box) != 32 or not isinstance(terminal_id, str) \
            or not isinstance(kindergarten, str) or not terminal_id or not kindergarten:
        raise AnswerRefused(AnswerRefusal.MALFORMED,
                            Sentence("the server's enrolment answer has a bad field"))
    if server_sign != signed_by:
        raise AnswerRefused(AnswerRefusal.SERVER_KEY_MISMATCH,
                            Sentence("the answer names another signing key than the one that "
                                     "signed it"))
    if answer.get("protocol") != PROTOCOL_VERSION:
        raise AnswerRefused(AnswerRefusal.MALFORMED, Sentence('the server speaks protocol '
                                                              "'%(theirs)s', this terminal "
                                                              '%(protocol_version)s',
                                                              theirs=answer.get('protocol'),
                                                              protocol_version=PROTOCOL_VERSION))
    return server_sign, server_box, terminal_id, kindergarten
