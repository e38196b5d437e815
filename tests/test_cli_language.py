"""What the commands tell people is in their language (qatys/sentences.py, docs/i18n.md):
Kazakh or Russian from the ``cli`` catalogue by QATYS_LANG or the locale, English otherwise;
every sentence fills exactly its placeholders; what scripts read (ids, JSON) never changes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from provisioning.errors import InvalidInput
from provisioning.roster import parse_csv
from qatys.sentences import (
    Sentence,
    catalogue,
    plural_sentence,
    reader_language,
    say,
    unknown_language_setting,
)
from tests.helpers import HEADER, ROSTER_TODAY, Command, qatys_batch, run

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / d for d in ("qatys", "server", "provisioning", "terminal")]
PLACEHOLDER = re.compile(r"%\((\w+)\)")
NO_LOCALE = {"QATYS_LANG": "", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}
"""An environment with no language chosen (the empty value counts as unset)."""


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "en_GB.UTF-8"}, "en"),
    ({"LANG": "ru_RU.UTF-8"}, "ru"),
    ({"LANG": "kk_KZ.UTF-8"}, "kk"),
    ({"LC_ALL": "ru_KZ.UTF-8", "LANG": "kk_KZ.UTF-8"}, "ru"),
    ({"LANGUAGE": "kk:ru", "LANG": "ru_RU.UTF-8"}, "kk"),
    ({"LC_MESSAGES": "kk_KZ@cyrillic", "LANG": "en_US.UTF-8"}, "kk"),
    ({"QATYS_LANG": "ru", "LANG": "kk_KZ.UTF-8"}, "ru"),
    ({"QATYS_LANG": "EN", "LANG": "kk_KZ.UTF-8"}, "en"),
    ({"QATYS_LANG": "de", "LANG": "kk_KZ.UTF-8"}, "kk"),
])
def test_the_reader_language_comes_from_qatys_lang_then_the_locale(
        environ: dict[str, str], expected: str) -> None:
    assert reader_language(environ) == expected


def test_an_unknown_qatys_lang_is_named() -> None:
    assert unknown_language_setting({"QATYS_LANG": "de"}) == "de"
    assert unknown_language_setting({"QATYS_LANG": "kk"}) is None
    assert unknown_language_setting({}) is None


def test_a_sentence_is_english_until_shown_in_a_language() -> None:
    sentence = Sentence("kindergarten %(code)s added", code="KG7")
    assert str(sentence) == "kindergarten KG7 added"
    assert say(sentence, "en") == "kindergarten KG7 added"
    for lang in ("kk", "ru"):
        shown = say(sentence, lang)
        assert "KG7" in shown
        assert "added" not in shown
        assert re.search(r"[\u0400-\u04ff]", shown), shown
    nested = Sentence("error: %(message)s", message=sentence)
    assert say(nested, "ru") == catalogue("ru").gettext("error: %(message)s") % {
        "message": say(sentence, "ru")}


def test_russian_counts_take_three_forms_and_kazakh_one() -> None:
    said = {n: say(plural_sentence("%(count)s card written to %(out)s",
                                   "%(count)s cards written to %(out)s", n, out="a.pdf"), "ru")
            for n in (1, 2, 5, 21, 22, 25)}
    assert len({said[1].replace("1", "N"), said[21].replace("21", "N")}) == 1
    assert len({said[2].replace("2", "N"), said[22].replace("22", "N")}) == 1
    assert len({said[1].replace("1", "N"), said[2].replace("2", "N"),
                said[5].replace("5", "N")}) == 3
    kazakh = {n: say(plural_sentence("%(count)s card written to %(out)s",
                                     "%(count)s cards written to %(out)s", n, out="a.pdf"), "kk")
              for n in (1, 2)}
    assert kazakh[1].replace("1", "N") == kazakh[2].replace("2", "N")


def _sentence_calls() -> list[tuple[Path, ast.Call]]:
    calls = []
    for folder in SOURCES:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in ("Sentence", "plural_sentence")):
                    calls.append((path, node))
    return calls


def test_every_sentence_is_a_literal_that_fills_exactly_its_placeholders() -> None:
    """A msgid the extractor cannot read is never translated; a placeholder without its value
    fails only when that error happens, in front of a person."""
    calls = _sentence_calls()
    assert len(calls) > 200
    problems = []
    for path, call in calls:
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        texts = call.args[:2 if call.func.id == "plural_sentence" else 1]  # type: ignore[attr-defined]
        if not all(isinstance(t, ast.Constant) and isinstance(t.value, str) for t in texts):
            if where.startswith(("server/errors.py", "qatys/sentences.py")):
                continue  # RequestError wraps a client's English; plural_sentence its msgid
            problems.append(f"{where}: the message is not a literal")
            continue
        wanted = {name for t in texts for name in PLACEHOLDER.findall(t.value)}  # type: ignore[attr-defined]
        given = {k.arg for k in call.keywords}
        if call.func.id == "plural_sentence":  # type: ignore[attr-defined]
            given.add("count")
            wanted.add("count")
        if None in given:
            problems.append(f"{where}: values passed as **mapping")
        elif wanted != given:
            problems.append(f"{where}: placeholders {sorted(wanted)}, values {sorted(given)}")
    assert problems == []


def test_roster_problems_are_whole_sentences_in_the_readers_language() -> None:
    text = "\n".join([HEADER, "c1,123,Ivanova,Aru,2021-13-01,A,state,2024-09-01,",
                      "c1,123,Ivanova,Aru,2021-01-01,A,state,2024-09-01,"]) + "\n"
    with pytest.raises(InvalidInput) as refused:
        parse_csv(text, ROSTER_TODAY)
    assert refused.value.problems[0].startswith("line 2: ")  # English for the JSON answers
    russian = [say(p, "ru") for p in refused.value.problem_sentences]
    assert len(russian) == len(refused.value.problems) >= 3
    for line in russian:
        assert re.search(r"[\u0400-\u04ff]", line), line
        assert not re.search(r"\b(line|must|duplicate|first at)\b", line), line


def test_commands_speak_russian_kazakh_or_english_and_print_the_same_ids(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("server", "init", "--data", data)
    ru, kk, en = ({**NO_LOCALE, "LANG": "ru_RU.UTF-8"}, {**NO_LOCALE, "QATYS_LANG": "kk"},
                  {**NO_LOCALE, "LANG": "C.UTF-8"})
    done = qatys_batch(
        Command(["kindergarten", "add", "--data", data, "--code", "KGR", "--name", "Бала"], ru),
        Command(["kindergarten", "add", "--data", data, "--code", "KGK", "--name", "Бала"], kk),
        Command(["kindergarten", "add", "--data", data, "--code", "KGE", "--name", "Бала"], en))
    added = "kindergarten %(code)s added"
    assert done[0].stdout.strip() == catalogue("ru").gettext(added) % {"code": "KGR"}
    assert done[1].stdout.strip() == catalogue("kk").gettext(added) % {"code": "KGK"}
    assert done[2].stdout.strip() == "kindergarten KGE added"
    again = [run("kindergarten", "add", "--data", data, "--code", "KGR", "--name", "Бала",
                 env=env, check=False) for env in (ru, kk, en)]
    assert [r.returncode for r in again] == [2, 2, 2]
    exists = Sentence("error: %(message)s",
                      message=Sentence("kindergarten %(code)s already exists", code="KGR"))
    assert [r.stderr.strip() for r in again] == [say(exists, "ru"), say(exists, "kk"),
                                                 "error: kindergarten KGR already exists"]
    tokens = [run("terminal", "token", "--data", data, "--kindergarten", "KGR", env=env)
              for env in (ru, en)]
    assert all(t.stdout.strip().splitlines()[-1].startswith("QTK1-") for t in tokens), tokens
    assert re.search(r"[\u0400-\u04ff]", tokens[0].stderr)
    assert "valid until" in tokens[1].stderr


def test_an_unknown_qatys_lang_stops_the_command_before_it_does_anything(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    refused = run("server", "init", "--data", data, env={"QATYS_LANG": "de"}, check=False)
    assert refused.returncode == 2
    assert "QATYS_LANG is 'de': it must be kk, ru or en" in refused.stderr
    assert not (tmp_path / "data").exists()
