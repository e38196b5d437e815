"""The root of every service's refusals, shared by the server's families
(:mod:`server.errors`) and provisioning's (:mod:`provisioning.errors`): a stable ``code``, a
message for people as a :class:`~qatys.sentences.Sentence`, never an HTTP status or an exit code.

It lives among the helpers every package uses so that provisioning, which the server builds on,
needs nothing of the server to raise errors the server's web table and commands understand."""

from __future__ import annotations

from qatys.sentences import Sentence


class ServiceError(Exception):
    """Root of the server's errors: ``code`` is stable (docs/api.md), ``message`` is for
    people, ``details`` go into the answer beside them (e.g. ``expected_seq``).

    ``message`` is a :class:`~qatys.sentences.Sentence`: the web answer and the logs carry it
    in English, and a command shows it in its reader's language."""

    def __init__(self, code: str, message: Sentence, **details: object) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = str(message)
        self.sentence = message
        self.details = details

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as what it holds, whatever its constructor takes (statements are made in
        worker processes, and their refusals travel back)."""
        return _restore, (type(self), self.args, self.__dict__)


def _restore(kind: type[ServiceError], args: tuple[object, ...],
             state: dict[str, object]) -> ServiceError:
    exc = kind.__new__(kind)
    exc.args = args
    exc.__dict__.update(state)
    return exc
