"""The gettext catalogues (docs/i18n.md): the server's (server/i18n/) and the kiosk's
(terminal/kiosk/translations/). Every message has its Kazakh and Russian, every plural form;
the plural rules are right; the committed .mo are the .po compiled and ship in the wheel; the
code's messages are all in the catalogues; and the pages people read in Kazakh or Russian —
finance, parents', the door screen — show no English word of the catalogues' source."""

from __future__ import annotations

import ast
import fnmatch
import gettext
import html.parser
import io
import re
import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from server.domain.anomalies import Flag
from server.i18n import catalogue
from server.i18n.words import Words, bilingual_legend
from tests.helpers import (
    CHILDREN,
    ServerProcess,
    add_user,
    guardian_client,
    invite_url,
    page_csrf,
    staff_session,
)

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = {"server": (ROOT / "server" / "i18n" / "translations", "messages"),
              "kiosk": (ROOT / "terminal" / "kiosk" / "translations", "kiosk"),
              "cli": (ROOT / "qatys" / "translations", "cli")}
PAGE_CATALOGUES = ("server", "kiosk")
"""What pages show; the commands' catalogue names options, formats and files in its ids."""
CLI_KEYWORDS = ["--no-default-keywords", "-k", "Sentence", "-k", "plural_sentence:1,2"]
SOURCES = {"server": ([], [ROOT / "server"]), "kiosk": ([], [ROOT / "terminal" / "kiosk"]),
           "cli": (CLI_KEYWORDS, [ROOT / d for d in ("qatys", "server", "provisioning",
                                                     "terminal")])}
"""Each catalogue's extraction, as `make translations` runs it: keywords, folders."""
PLURAL_FORMS = {
    "kk": "nplurals=2; plural=(n != 1);",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
          "(n%100<10 || n%100>=20) ? 1 : 2);",
}
LANGUAGES = tuple(PLURAL_FORMS)


def _po(name: str, lang: str) -> Catalog:
    folder, domain = CATALOGUES[name]
    with (folder / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _mo_path(name: str, lang: str) -> Path:
    folder, domain = CATALOGUES[name]
    return folder / lang / "LC_MESSAGES" / f"{domain}.mo"


@pytest.mark.parametrize("name", CATALOGUES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_its_translation_in_every_plural_form(name: str, lang: str) -> None:
    catalog = _po(name, lang)
    assert catalog.plural_forms == PLURAL_FORMS[lang]
    messages = [m for m in catalog if m.id]
    assert len(messages) > {"server": 150, "kiosk": 60, "cli": 200}[name]
    for message in messages:
        assert not message.fuzzy, message.id
        if isinstance(message.id, tuple):
            assert isinstance(message.string, tuple), message.id
            assert len(message.string) == catalog.num_plurals, message.id
            assert all(s.strip() for s in message.string), message.id
        else:
            assert isinstance(message.string, str), message.id
            assert message.string.strip(), message.id
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []  # placeholders the same as the msgid's, Python format kept


@pytest.mark.parametrize("name", CATALOGUES)
def test_message_ids_are_english(name: str) -> None:
    for message in _po(name, "kk"):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            assert not re.search(r"[\u0400-\u04ff]", text), text


def test_plural_forms_of_russian_and_kazakh() -> None:
    ru, kk = catalogue("ru"), catalogue("kk")
    said = {n: ru.ngettext("%(num)s second left", "%(num)s seconds left", n) % {"num": n}
            for n in (1, 2, 5, 11, 21, 22, 25)}
    assert said == {1: "1 секунда осталась", 2: "2 секунды осталось", 5: "5 секунд осталось",
                    11: "11 секунд осталось", 21: "21 секунда осталась",
                    22: "22 секунды осталось", 25: "25 секунд осталось"}
    assert {n: kk.ngettext("%(num)s second left", "%(num)s seconds left", n) % {"num": n}
            for n in (1, 2, 21)} == {1: "1 секунд қалды", 2: "2 секунд қалды",
                                     21: "21 секунд қалды"}
    for lang, expected in (("ru", {1: 0, 2: 1, 4: 1, 5: 2, 11: 2, 12: 2, 14: 2, 21: 0, 22: 1,
                                   25: 2, 101: 0, 111: 2, 112: 2, 122: 1}),
                           ("kk", {0: 1, 1: 0, 2: 1, 5: 1, 11: 1, 21: 1, 101: 1})):
        for name in CATALOGUES:
            with _mo_path(name, lang).open("rb") as handle:
                rule = gettext.GNUTranslations(handle).plural  # type: ignore[attr-defined]
            assert {n: rule(n) for n in expected} == expected, (name, lang)


@pytest.mark.parametrize("name", CATALOGUES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_committed_mo_is_the_po_compiled(name: str, lang: str) -> None:
    """.mo files are committed (docs/i18n.md says why): each must be its .po, compiled."""
    compiled = io.BytesIO()
    write_mo(compiled, _po(name, lang))
    fresh = gettext.GNUTranslations(io.BytesIO(compiled.getvalue()))
    with _mo_path(name, lang).open("rb") as handle:
        committed = gettext.GNUTranslations(handle)
    assert committed._catalog == fresh._catalog, "run `make translations`"  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", CATALOGUES)
def test_the_catalogue_holds_exactly_the_messages_of_the_code(name: str,
                                                              tmp_path: Path) -> None:
    out = tmp_path / f"{name}.pot"
    keywords, folders = SOURCES[name]
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F",
                    str(ROOT / "babel.cfg"), *keywords, "-o", str(out), *map(str, folders)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    with out.open("rb") as handle:
        extracted = {(m.id, m.context) for m in read_po(handle) if m.id}
    for lang in LANGUAGES:
        held = {(m.id, m.context) for m in _po(name, lang) if m.id}
        assert extracted - held == set(), "new messages: run `make translations`, translate"
        assert held - extracted == set(), "messages no longer used: run `make translations`"


def test_the_wheel_carries_the_catalogues() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = data["package-data"]
    for name in CATALOGUES:
        for lang in LANGUAGES:
            for path in (_mo_path(name, lang), _mo_path(name, lang).with_suffix(".po")):
                relative = path.relative_to(ROOT)
                package = relative.parts[0]
                inside = str(Path(*relative.parts[1:]))
                assert any(fnmatch.fnmatch(inside, g) for g in globs.get(package, ())), path


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_domain_and_the_terminal_import_no_translation_machinery_of_the_server() -> None:
    for path in (ROOT / "server" / "domain").rglob("*.py"):
        assert not {m for m in _imports(path)
                    if m.split(".")[0] in ("flask", "flask_babel", "babel")}, path
    for path in (ROOT / "terminal").rglob("*.py"):
        assert not {m for m in _imports(path) if m.split(".")[0] in ("server", "babel",
                                                                      "flask_babel")}, path


FLAGS = [
    Flag("stack_of_cards", "KG1", date(2026, 3, 2), "", ("e1",),
         {"children": 21, "method": "qr-card", "terminal": "T-A", "seconds": 60}),
    Flag("present_on_closure", "KG1", date(2026, 3, 30), "", ("e1",), {"children": 22}),
    Flag("manual_share", "KG1", None, "", ("e1",),
         {"manual": 7, "total": 27, "percent": 26, "limit": 20}),
    Flag("two_kindergartens", "KG1", date(2026, 3, 2), "", ("e1",),
         {"child": "child-00001-x7q", "others": "KG2"}),
    Flag("clock_jump", "KG1", date(2026, 3, 2), "", ("e1",), {"terminal": "T-A",
                                                              "minutes": 55}),
    Flag("scans_while_camera_down", "KG1", date(2026, 3, 2), "", ("e1",),
         {"terminal": "T-A", "scans": 1}),
    Flag("phone_code_reused", "KG1", date(2026, 3, 2), "", ("e1",),
         {"binding": "AAAAAAAA", "window": "59000000", "terminals": "T-A, T-B"}),
    Flag("clock_corrected", "KG1", date(2026, 3, 2), "", ("e1",),
         {"terminal": "T-A", "events": 5, "days": "+1.0"}),
]


def _english_words() -> set[str]:
    """Words of three or more Latin letters in the catalogues' message ids (placeholders,
    the brand and contexts apart)."""
    words: set[str] = set()
    for name in PAGE_CATALOGUES:
        for message in _po(name, "kk"):
            for text in message.id if isinstance(message.id, tuple) else (message.id,):
                text = re.sub(r"%\(\w+\)[sd]|\{\w+\}", " ", text)
                words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", text))
    return words - {"qatys", "https", "http", "excel"}  # the brand, URLs, a program's name


ENGLISH = _english_words()


TEST_DATA = ("Group A", "director", "administrator", "roster.csv")
"""What the shared test data itself says in English: the generated roster's group, and the
names the commands record by default (``--by director``, ``--by administrator``) that the
office shows as who recorded a record, the roster's file name; data, not the page's words."""


def _english_in(text: str) -> set[str]:
    """English catalogue words in ``text``: chunks with a digit (ids, dates, amounts, codes
    like child-00001-x7q or sha256), URLs, all-capital codes (PDF, JSON), the ``{until}``
    where a page's script puts a value and the test data's own words are not words."""
    for data in TEST_DATA:
        text = re.sub(rf"\b{data}\b", " ", text)
    text = re.sub(r"https?://\S+|\S*\d\S*|\{\w+\}", " ", text)
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)
            if not w.isupper() and w.lower() in ENGLISH}


def test_anomaly_flags_speak_the_readers_language() -> None:
    assert {"children", "terminal", "check", "hand"} <= ENGLISH
    for lang in LANGUAGES:
        words = Words(catalogue(lang))
        for flag in FLAGS:
            said, heading = words.flag(flag), words.rule(flag.rule)
            assert said, (lang, flag.rule)
            assert heading != flag.rule, (lang, flag.rule)
            assert _english_in(said) == set() == _english_in(heading), (lang, said)
    ru = Words(catalogue("ru"))
    assert ru.flag(FLAGS[0]) == ("на терминале T-A за 60 с способом «карта» отмечен 21 ребёнок")
    assert ru.flag(FLAGS[1]) == "в день закрытия отмечены 22 ребёнка"
    assert ru.flag(FLAGS[2]) == "вручную введено 7 из 27 отметок (26 %, порог 20 %)"
    assert Words(catalogue("kk")).rule("manual_share").startswith(
        "Айдағы белгілердің 20 %-дан астамы")


def test_exports_print_both_languages_from_the_catalogue() -> None:
    from server.i18n import both
    from server.money.exports import STATEMENT_HEADINGS, legend

    assert [both(words) for _, words in STATEMENT_HEADINGS][:3] == [
        "Бала ID / ID ребёнка", "Санат / Категория", "Норматив / Норматив"]
    assert legend() == bilingual_legend()
    assert legend().startswith("+к карта, +т телефон, +ф бет / лицо, +р қолмен / вручную; ")
    assert "· демалыс күні / нерабочий день" in legend()
    assert _english_in(legend()) == set()


class _Visible(html.parser.HTMLParser):
    """What a reader sees of a page in ``lang``: its text outside scripts, styles and elements
    declared English (``lang="en"``), the
    attributes shown (title, alt, aria-label, placeholder), the texts the page's script shows
    (the ``#texts`` element's data, ``data-sent``) and, on the door screen, ``data-<lang>``."""

    SHOWN: ClassVar[set[str]] = {"title", "alt", "aria-label", "placeholder", "data-sent",
                                 "data-failed", "data-closed", "data-bad-dispute"}

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang, self.parts, self.hidden = lang, [], 0
        self.hiding: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style") or values.get("lang") == "en":  # declared English:
            self.hidden += 1  # a file's column headings, a technical detail
            self.hiding.append(tag)
        for key, value in attrs:
            shown = key in self.SHOWN or key == f"data-{self.lang}" or (
                values.get("id") == "texts" and key.startswith("data-"))
            if shown and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if self.hiding and self.hiding[-1] == tag:
            self.hiding.pop()
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _visible(page: str, lang: str) -> str:
    reader = _Visible(lang)
    reader.feed(page)
    return " ".join(reader.parts)


@pytest.fixture(scope="module")
def server(sqlite_server: ServerProcess) -> ServerProcess:
    """SQLite only: this reads pages; their storage is tested on PostgreSQL elsewhere."""
    return sqlite_server


@pytest.fixture(scope="module")
def pages(march: ServerProcess) -> dict[str, tuple[requests.Session, str, str]]:
    """Each page to read: the session that may see it, its path, and how to ask for it."""
    add_user(march, "fin-i18n", "finance", "finance-pass-i18n")
    add_user(march, "dir-i18n", "director", "director-pass-i18n", kindergarten="KG1")
    base = march.url
    finance = staff_session(base, "fin-i18n", "finance-pass-i18n")
    director = staff_session(base, "dir-i18n", "director-pass-i18n")
    guardian = guardian_client(march, CHILDREN[1])
    month = "/finance/k/KG1/2026-03"
    return {
        "login": (requests.Session(), "/finance/login", "get"),
        "system overview": (finance, "/finance/system", "get"),
        "month overview": (finance, "/finance/?month=2026-03", "get"),
        "statement": (finance, month, "get"),
        "statement (director)": (director, month, "get"),
        "табель": (finance, month + "/tabel", "get"),
        "child present": (director, f"{month}/child/{CHILDREN[1]}", "get"),
        "child absent": (director, f"{month}/child/{CHILDREN[4]}", "get"),
        "child ill": (finance, f"{month}/child/{CHILDREN[3]}", "get"),
        "invitation": (director, f"{month}/child/{CHILDREN[2]}/invite", "post"),
        "fleet": (finance, "/finance/fleet", "get"),
        "parents' home": (requests.Session(), "/parents/", "get"),
        "parents' record": (guardian.http, f"/parents/child/{CHILDREN[1]}?month=2026-03",
                            "get"),
        "parents' invitation": (requests.Session(),
                                invite_url(march, CHILDREN[5]).removeprefix(base), "get"),
        "parents' missing": (guardian.http, "/parents/child/no-such-child", "get"),
        **{f"office {name}": (director, "/office/" + path, "get") for name, path in [
            ("today", "today"), ("absences", "absences"), ("closures", "closures"),
            ("cards", "cards"), ("consent forms", "consent"),
            ("consent ledger", f"consent?child={CHILDREN[3]}"), ("guardians", "guardians"),
            ("roster", "roster"), ("terminals", "terminals"), ("accounts", "accounts"),
            ("audit trail", "audit"), ("reports from parents", "reports"),
            ("forbidden", "today?kindergarten=KG2")]},
        "office terminal code": (director, "/office/terminals/code", "post"),
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_english_on_the_finance_and_parents_pages(march: ServerProcess, lang: str,
                                                     pages: dict[str, tuple[requests.Session,
                                                                            str, str]]) -> None:
    seen: dict[str, set[str]] = {}
    for name, (session, path, method) in pages.items():
        url = march.url + path + ("&" if "?" in path else "?") + f"lang={lang}"
        if method == "post":
            form = session.get(march.url + path.rsplit("/", 1)[0] + f"?lang={lang}",
                               timeout=30)
            answer = session.post(url, data={"csrf": page_csrf(form.text)}, timeout=30)
        else:
            answer = session.get(url, timeout=30)
        assert answer.status_code in (200, 403, 404), (name, answer.status_code)
        assert f'lang="{lang}"' in answer.text or name == "system overview", name
        text = _visible(answer.text, lang)
        assert re.search(r"[\u0400-\u04ff]{3,}", text), name  # the page says something
        seen[name] = _english_in(text)
    assert {name: words for name, words in seen.items() if words} == {}


def test_the_statement_shows_its_flags_in_the_readers_language(
        march: ServerProcess, pages: dict[str, tuple[requests.Session, str, str]]) -> None:
    session, path, _ = pages["statement"]
    ru = session.get(march.url + path + "?lang=ru", timeout=30).text
    kk = session.get(march.url + path + "?lang=kk", timeout=30).text
    assert 'data-rule="present_on_closure"' in ru
    assert "в день закрытия отмечен" in ru
    assert "жабық күні" in kk
    assert "checked in" not in ru + kk
    child = session.get(march.url + f"{path}/child/{CHILDREN[2]}?lang=ru", timeout=30).text
    assert "нерабочий день: выходной" in child
    assert "weekend" not in child


class _Kiosk:
    """What the door page asks of the kiosk: its status."""

    def status(self) -> dict[str, object]:
        return {"mode": "door", "pending": 3, "online": False, "kindergarten": "Балабақша 1",
                "manual_entry": True, "faces": []}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_english_on_the_door_screen(lang: str) -> None:
    from terminal.kiosk.web import create_kiosk_app

    page = create_kiosk_app(_Kiosk()).test_client().get(f"/?lang={lang}")  # type: ignore[arg-type]
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    text = _visible(body, lang)
    assert "Картаны немесе телефонды камераға көрсетіңіз" in text if lang == "kk" else \
        "Покажите карту или телефон камере" in text
    assert _english_in(text) == set()
    assert '"pending": ["{n} ' in body
    assert "(n%10==1 && n%100!=11" in body


def test_the_kiosk_says_both_languages_from_its_catalogue() -> None:
    from terminal.kiosk.texts import MESSAGES, pending_forms, say

    assert say("in") == {"kk": "Қош келдің!", "ru": "Добро пожаловать!"}
    assert say("no-such-reason") == {"kk": "Қабылданбады — тәрбиешіге айтыңыз",
                                     "ru": "Не принято — сообщите воспитателю"}
    for key in MESSAGES:
        said = say(key)
        assert _english_in(said["kk"] + " " + said["ru"]) == set(), key
    assert pending_forms() == {"kk": ["{n} күтуде"] * 2, "ru": ["{n} в очереди"] * 3}
