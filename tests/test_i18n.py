"""Swedish and English (planner.i18n): complete catalogues, CLDR number formats, defaults.

The catalogue test extracts every marked text from planner's code with Babel
(the same extraction as ``pybabel extract -F babel.cfg``) and fails when one
has no Swedish translation, when a translation loses or invents a ``{field}``,
or when the template ``planner.pot`` is out of date.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from planner.errors import InputFileError, ParameterError
from planner.i18n import LANGUAGES, check_language, default_language, translator

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "planner" / "i18n" / "locale"

#: Terms the issue asks for in Swedish usage, and the English text they translate.
SWEDISH_TERMS = {
    "Response time": "Responstid",
    "Share within {t} min": "Andel inom {t} min",
    "not reachable": "ej nåbar",
    "Municipality": "Kommun",
    "Region": "Län",
    "proposed new site": "föreslagen station",
    "before": "före",
    "after": "efter",
}


def _extracted() -> set[str]:
    """msgids marked in planner's code (singular forms), as pybabel extract finds them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {"gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "planner", method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalogue(language: str) -> Catalog:
    with open(LOCALE / language / "LC_MESSAGES" / "planner.po", "rb") as fh:
        return read_po(fh, locale=language)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def _problems(catalogue: Catalog, extracted: set[str]) -> list[str]:
    """What is wrong with a catalogue's translations of the extracted texts."""
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalogue if m.id}
    problems = [f"missing: {msgid!r}" for msgid in sorted(extracted - ids.keys())]
    for msgid in sorted(extracted & ids.keys()):
        message = ids[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"not translated: {msgid!r}")
        for text in strings:  # a translation keeps exactly the fields it is filled with
            if text.strip() and _fields(text) != _fields(msgid):
                problems.append(f"fields differ: {msgid!r} -> {text!r}")
    return problems


def test_every_marked_text_has_a_swedish_translation() -> None:
    extracted = _extracted()
    assert len(extracted) > 150  # the map, the report, XLSX headers ...
    assert _problems(_catalogue("sv"), extracted) == []


def test_a_missing_or_broken_translation_is_caught() -> None:
    extracted = _extracted()
    sv = _catalogue("sv")
    sv.delete("Stations")
    sv["Reached within"].flags.add("fuzzy")  # type: ignore[union-attr]
    sv["Within {t} min"].string = "Inom min"  # type: ignore[union-attr]
    assert _problems(sv, extracted) == [
        "missing: 'Stations'",
        "not translated: 'Reached within'",
        "fields differ: 'Within {t} min' -> 'Inom min'",
    ]


def test_template_and_english_catalogue_match_the_code() -> None:
    extracted = _extracted()
    with open(LOCALE / "planner.pot", "rb") as fh:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(fh) if m.id}
    assert template == extracted, "run pybabel extract (planner/i18n/README.md)"
    en = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalogue("en") if m.id}
    assert en == extracted


def test_swedish_terms_follow_swedish_usage() -> None:
    tr = translator("sv")
    for english, swedish in SWEDISH_TERMS.items():
        assert tr.gettext(english) == swedish
    glossary = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8").lower()
    for term in ("responstid", "andel inom", "ej nåbar", "kommun", "län", "föreslagen station"):
        assert term in glossary, term


@pytest.mark.parametrize(
    ("language", "number", "share", "minutes", "change", "date"),
    [
        # CLDR (Babel): Swedish groups with a no-break space U+00A0 and puts one before %
        ("sv", "7\u00a0363\u00a0324", "87,9\u00a0%", "12,5 min", "+5,2 p.e.", "6 december 2026"),
        ("en", "7,363,324", "87.9%", "12.5 min", "+5.2 pp", "6 December 2026"),
    ],
)
def test_numbers_and_dates_in_each_language(
    language: str, number: str, share: str, minutes: str, change: str, date: str
) -> None:
    tr = translator(language)  # type: ignore[arg-type]
    assert tr.number(7_363_324) == number  # SCB's tätorter: 7,363,324 people
    assert tr.percent(0.879) == share
    assert tr.minutes(12.5) == minutes
    assert tr.points(0.052) == change
    assert tr.date("2026-12-06T10:00:00Z") == date
    assert tr.minutes(float("inf")) == tr.gettext("unreachable")
    assert tr.percent(None) == tr.number(float("nan")) == "–"
    assert tr.number(-0.04, 1) == tr.number(0.0, 1)  # never "-0,0"
    assert tr.weight(1234.5) == tr.number(1234.5, 1) and tr.weight(12.0) == tr.number(12)


def test_plural_forms() -> None:
    sv, en = translator("sv"), translator("en")
    assert sv.ngettext("{n} unit", "{n} units", 1).format(n=1) == "1 enhet"
    assert sv.ngettext("{n} unit", "{n} units", 2).format(n=2) == "2 enheter"
    assert en.ngettext("{n} unit", "{n} units", 2).format(n=2) == "2 units"


def test_language_codes_are_checked() -> None:
    assert LANGUAGES == ("sv", "en")
    assert check_language("sv") == "sv"
    with pytest.raises(ParameterError, match=r"language = 'de' is not a language .* \"sv\""):
        translator("de")  # type: ignore[arg-type]
    assert default_language(in_sweden=True) == "sv"
    assert default_language(in_sweden=False) == "en"


def test_scenario_language_defaults_by_region(tmp_path: Path, andorra_scenario_dir: Path) -> None:
    from planner.run.scenario import load_scenario

    andorra = load_scenario(andorra_scenario_dir / "andorra.toml")
    assert andorra.language == "en"  # a boundary polygon outside Sweden
    gotland = tmp_path / "gotland.toml"
    base = (
        'name = "gotland"\n[region]\ncode = "09"\n[roads]\nsource = "download"\n'
        '[stations]\npath = "s.csv"\n[[demand]]\npath = "d.csv"\ntype = "points"\n'
    )
    gotland.write_text(base, encoding="utf-8")
    scenario = load_scenario(gotland, check_files=False)
    assert scenario.language == "sv" and scenario.outputs.csv is None
    assert scenario.outputs.cdn is False
    gotland.write_text('language = "en"\n' + base + '[outputs]\ncsv = "excel-sv"\ncdn = true\n')
    scenario = load_scenario(gotland, check_files=False)
    assert (scenario.language, scenario.outputs.csv, scenario.outputs.cdn) == (
        "en",
        "excel-sv",
        True,
    )
    gotland.write_text('language = "se"\n' + base, encoding="utf-8")
    with pytest.raises(InputFileError, match=r"line 1: language = 'se' is not one of sv, en"):
        load_scenario(gotland, check_files=False)
    gotland.write_text(base + '[outputs]\ncsv = "excel"\n', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"outputs\.csv = 'excel' .* did you mean 'excel-sv'"):
        load_scenario(gotland, check_files=False)


def test_no_gettext_call_hides_in_an_f_string() -> None:
    """Babel does not look inside f-strings: a call there would never be translated."""
    pattern = re.compile(r"""f(["'])[^"'\n]*\{[^}\n]*gettext\(""")
    for path in sorted((ROOT / "planner").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not pattern.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
