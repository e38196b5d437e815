"""Server storage on SQLite: writers queue one behind another, readers never wait for them."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, func, select

from server.storage import db
from server.storage.migrations import migrate


def _engine(tmp_path: Path) -> Engine:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'qatys.db'}")
    migrate(engine)
    return engine


def _add_kindergarten(engine: Engine, code: str) -> None:
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.insert().values(code=code, name=code, six_day=False,
                                                      created_at_us=0))


def test_second_writer_waits_until_the_first_commits(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    first_holds, release, order = threading.Event(), threading.Event(), []

    def first() -> None:
        with db.writing(engine) as conn:
            conn.execute(db.kindergartens.insert().values(code="A", name="A", six_day=False,
                                                          created_at_us=0))
            first_holds.set()
            release.wait(10)
            order.append("first commits")

    def second() -> None:
        first_holds.wait(10)
        _add_kindergarten(engine, "B")
        order.append("second commits")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_holds.wait(10)
    threading.Event().wait(0.2)  # give the second writer time to (wrongly) get through
    assert order == []
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first commits", "second commits"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.kindergartens)).scalar() == 2


def test_reader_sees_the_last_commit_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _add_kindergarten(engine, "A")
    with db.writing(engine) as conn:
        conn.execute(db.kindergartens.insert().values(code="B", name="B", six_day=False,
                                                      created_at_us=0))
        with engine.connect() as reader:  # would wait 30 s if reads took the write lock
            codes = reader.execute(select(db.kindergartens.c.code)).scalars().all()
        assert codes == ["A"]


def test_failed_write_changes_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        with db.writing(engine) as conn:
            conn.execute(db.kindergartens.insert().values(code="A", name="A", six_day=False,
                                                          created_at_us=0))
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.kindergartens)).scalar() == 0
    _add_kindergarten(engine, "B")  # the queue was released
