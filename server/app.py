"""The Flask app factory: ``create_app(data_dir)`` builds one app per process.

One blueprint per concern (ingest, terminal, meta, pages); every error,
including Flask's own 404/405/413, is answered in the one JSON error shape
(server/web/errors.py: the table of codes and statuses, the handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from qatys.sentences import Sentence
from qatys.timeutil import now_us
from server.config import ServerConfig, load_config
from server.context import ServerContext
from server.errors import SetupError
from server.families import pages as parents_pages
from server.finance import pages as finance_pages
from server.finance import system as pages
from server.keys import load_keys, load_session_secret
from server.office import pages as office_pages
from server.storage.db import make_engine
from server.storage.migrations import pending
from server.storage.replica import Reads
from server.sync import answers, face_api, terminal_api
from server.sync import batches_api as ingest_api
from server.sync.ingest import Ingestor
from server.web import errors as web_errors
from server.web import guard as web_guard
from server.web import language
from server.web import meta as meta_api
from server.web.rate_limits import Guard, Limits


def create_app(data_dir: Path | str | None = None, *, config: ServerConfig | None = None,
               clock: Callable[[], int] = now_us) -> Flask:
    if config is None:
        if data_dir is None:
            raise ValueError("create_app needs a data directory or a config")
        config = load_config(Path(data_dir))
    engine = make_engine(config.database_url)
    missing = pending(engine)
    if missing:
        raise SetupError(Sentence("the database needs `qatys server init` (pending: %(steps)s)",
                                  steps=', '.join(missing)))
    keys = load_keys(config.keys_file)
    app = Flask(__name__, static_folder=None)  # each page package serves its own
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # No Flask session (no secret_key): sessions live in the database (server/web/sessions.py).
    app.extensions["qatys"] = ServerContext(
        config, engine, keys, clock, Ingestor(engine, keys, clock),
        load_session_secret(config.session_secret_file),
        Guard(engine, clock=lambda: clock() / 1_000_000), Limits.from_config(config),
        Reads.from_config(engine, config.database_read_url, config.replica_wait_ms))
    web_guard.install(app, config.public_url, config.trusted_proxies)
    language.install(app)
    for blueprint in (ingest_api.bp, terminal_api.bp, face_api.bp, meta_api.bp, pages.bp,
                      finance_pages.bp, office_pages.bp, parents_pages.bp):
        app.register_blueprint(blueprint)
    app.after_request(answers.sign_terminal_answer)
    web_errors.install(app)
    return app

