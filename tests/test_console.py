"""The console: --version, help with examples and defaults, lines above the bars, units, rows."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from tqdm.auto import tqdm
from typer.testing import CliRunner

import planner
from planner.errors import InputFileError, file_label
from planner.i18n import translator
from planner.inputs.sites import read_stations
from planner.run.cli import app, main
from planner.run.console import (
    amount,
    comparison_summary,
    conclusion_lines,
    coverage_summary,
    echo,
    network_lines,
    objective_summary,
    output_guide,
    site_lines,
    stations_line,
    traveltimes_summary,
)

EN, SV = translator("en"), translator("sv")
#: The no-break space of Swedish numbers and of the space before "%" (CLDR).
NB = "\u00a0"

ROOT = typer.main.get_command(app)


def _commands(command: Any = ROOT, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands())


def _command(path: tuple[str, ...]) -> Any:
    command = ROOT
    for name in path:
        command = command.commands[name]
    return command


def _help(path: tuple[str, ...]) -> str:
    """The rendered ``--help`` of a command, wide enough that no line wraps."""
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out == f"planner {planner.__version__}\n"
    assert planner.__version__ == importlib.metadata.version("planner")  # not the fallback


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("planner", *p)))
def test_help_has_an_example_that_parses(path: tuple[str, ...]) -> None:
    """Every --help ends with an example; each example is a valid call of a command."""
    text = _help(path)
    assert re.search(r"^\s*Examples?:\s*$", text, flags=re.MULTILINE), text
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith("planner ")]
    assert examples, text
    for example in examples:
        words = shlex.split(example)[1:]
        command, called = ROOT, []
        while getattr(command, "commands", None) and words and words[0] in command.commands:
            called.append(words[0])
            command, words = command.commands[words[0]], words[1:]
        # an example of this command (a group's: of one of its commands), not of a group
        assert tuple(called[: len(path)]) == path and not getattr(command, "commands", None)
        # parses the options and arguments as a run would (unknown options, types)
        command.make_context("planner", list(words), resilient_parsing=False)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("planner", *p)))
def test_help_shows_bracketed_words_and_defaults(path: tuple[str, ...]) -> None:
    """Help texts are shown word for word ("[outputs]" is not eaten as markup), with defaults."""
    text = re.sub(r"\s+", " ", _help(path))
    command = _command(path)
    helps = [command.help or ""] + [p.help for p in command.params if getattr(p, "help", None)]
    for help_text in helps:
        for word in re.findall(r"\S*[\[\]*_`<>]\S*", help_text):
            assert word.strip(".,;:()") in text, (word, help_text)
    for param in command.params:
        default = getattr(param, "default", None)
        shown = getattr(param, "show_default", None) is not False
        if (
            shown
            and not getattr(param, "is_flag", False)
            and isinstance(default, int | float | str)
        ):
            assert f"[default: {default}]" in text, param.name


def test_plan_help_names_the_scenario_defaults() -> None:
    text = re.sub(r"\s+", " ", _help(("plan",)))
    assert "Output folder (default: [outputs] dir)." in text
    assert "Map file (default: [outputs] map)." in text


def test_echo_writes_above_a_running_bar(capsys: pytest.CaptureFixture[str]) -> None:
    """A stage message gets its own line while a bar is drawn; the bar is drawn again below it."""
    bar = tqdm(total=4, desc="plan", file=sys.stderr, mininterval=0, ascii=True)
    bar.update(1)
    echo("stations: 2 stations with 3 units")
    bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    pieces = re.split(r"[\r\n]", err)
    assert "stations: 2 stations with 3 units" in pieces  # a whole line, not glued to the bar
    after = err[err.index("stations: 2 stations") :]
    assert re.search(r"plan: +50%", after)  # the bar resumes under the message


def test_rows_are_numbered_as_excel_shows_them(tmp_path: Path) -> None:
    """A semicolon CSV as Swedish Excel saves it: the reported row is the file's line number."""
    lines = [
        "namn;lon;lat",
        "Umeå;20,2630;63,8258",
        ";;",  # an empty row Excel leaves: still a row
        "Vännäs;;63,9100",
        "Holmsund;20,3650;abc",
    ]
    path = tmp_path / "stationer.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    with pytest.raises(InputFileError) as info:
        read_stations(path, source=file_label(path, "--stations"))
    messages = str(info.value).splitlines()
    excel_row = {name: number for number, line in enumerate(lines, 1) for name in [line[:6]]}
    assert messages == [
        f"{path} (--stations) row {excel_row['Vännäs']} (Vännäs): longitude is missing",
        f"{path} (--stations) row {excel_row['Holmsu']} (Holmsund): latitude 'abc' is not a number",
    ]
    assert excel_row["Vännäs"] == 4 and excel_row["Holmsu"] == 5  # header is row 1


def test_file_label() -> None:
    assert file_label(Path("in/stations.csv"), "--stations") == "in/stations.csv (--stations)"
    assert file_label("demand.csv", "demand[2].path in x.toml") == (
        "demand.csv (demand[2].path in x.toml)"
    )
    assert file_label("demand.csv") == "demand.csv"


def test_amounts_carry_their_unit() -> None:
    assert amount(27532.0, "people", tr=EN) == "27,532 people"
    assert amount(1.0, "buildings", tr=EN) == "1 building"
    assert amount(12.5, "people", tr=EN) == "12.5 people"
    assert stations_line(1, 3, tr=EN) == "stations: 1 station with 3 units"
    assert amount(27532.0, "people", tr=SV) == f"27{NB}532 personer"
    assert amount(1.0, "buildings", tr=SV) == "1 byggnad"
    assert amount(12.5, "people", tr=SV) == "12,5 personer"
    assert amount(3.0, "calls", tr=SV) == "3 larm"
    assert stations_line(1, 3, tr=SV) == "stationer: 1 station med 3 enheter"
    assert stations_line(12, 1, tr=SV) == "stationer: 12 stationer med 1 enhet"


_TOTAL = {
    "demand": 7363324.0,
    "share_within_10_min": 0.8789,
    "share_within_20_min": 0.9512,
    "median_min": 12.5,
    "p90_min": 21.04,
    "share_unreachable": 0.0125,
    "demand_unreachable": 92041.55,
}


def test_coverage_summary_in_each_language() -> None:
    """Hand-formatted: Babel's CLDR patterns, no-break spaces in Swedish, units everywhere."""
    en = coverage_summary(_TOTAL, (10.0, 20.0), "people", tr=EN, state="after")
    assert en == (
        "coverage after: demand 7,363,324 people: 87.9% within 10 min, 95.1% within 20 min; "
        "median response time 12.5 min, 90th percentile 21.0 min; unreachable 1.2% "
        "(92,042 people)"
    )
    sv = coverage_summary(_TOTAL, (10.0, 20.0), "people", tr=SV, state="before")
    assert sv == (
        f"täckning före: efterfrågan 7{NB}363{NB}324 personer: 87,9{NB}% inom 10 min, "
        f"95,1{NB}% inom 20 min; medianresponstid 12,5 min, 90:e percentilen 21,0 min; "
        f"ej nåbar 1,2{NB}% (92{NB}042 personer)"
    )
    nothing = dict(_TOTAL, median_min=float("nan"), p90_min=float("nan"))
    assert "inga responstider (inget nås)" in coverage_summary(nothing, (10.0,), "people", tr=SV)


def test_other_summaries_in_swedish(tmp_path: Path) -> None:
    summary = {
        "nodes": 12345, "edges": 30001, "components": 1, "osm_timestamp": None,
        "length_km": 1234.56, "nodes_outside_largest": 0,
    }  # fmt: skip
    assert network_lines(summary, from_cache=True, tr=SV) == (
        f"vägnät: 12{NB}345 noder, 30{NB}001 länkar, 1 starkt sammanhängande del; "
        "OSM-data från okänt datum (från cachen)"
    )
    assert network_lines(summary, from_cache=False, tr=EN, detail=True) == (
        "12,345 nodes, 30,001 edges, 1,234.6 km of road; 1 strongly connected part, 0 nodes "
        "outside the largest; OSM data of unknown date"
    )
    line = traveltimes_summary(
        tmp_path / "t.csv", 1500, points=False, reached=0.9876, cutoff_min=30.0,
        median_min=7.25, tr=SV,
    )  # fmt: skip
    assert line == (
        f"skrev {tmp_path / 't.csv'}: 1{NB}500 vägnoder, 98,8{NB}% nås inom 30 min körtid; "
        "medianresponstid 7,2 min"
    )
    sites = pd.DataFrame(
        {"order": [1], "site": ["Slite"], "demand_newly_within_20_min": [1234.0],
         "person_minutes_saved": [56789.4]}
    )  # fmt: skip
    assert site_lines(sites, "people", tr=SV) == [
        f"  1. Slite: +1{NB}234 personer inom 20 min, 56{NB}789 sparade personminuter"
    ]
    assert site_lines(sites, "people", tr=EN) == [
        "  1. Slite: +1,234 people within 20 min, 56,789 person-minutes saved"
    ]


def test_objective_summaries_in_units() -> None:
    """Objectives in the model's units (weight x s, s) are shown in minutes (hand-computed)."""
    pmedian = objective_summary(
        "pmedian", 7200.0 * 50, 3600.0 * 50, unit="people", threshold_min=20, busy_fraction=0.3,
        tr=EN,
    )  # fmt: skip
    assert pmedian == "pmedian: total response time 6,000 -> 3,000 person-minutes (-3,000)"
    pcenter = objective_summary(
        "pcenter", 1530.0, 1170.0, unit="people", threshold_min=20, busy_fraction=0.3, tr=EN
    )
    assert pcenter == "pcenter: longest response time 25.5 min -> 19.5 min"
    mclp = objective_summary(
        "mclp", 0.0, 20.0, unit="buildings", threshold_min=5, busy_fraction=0, tr=EN
    )
    assert mclp == "mclp: 0 buildings -> 20 buildings within 5 min (+20 buildings)"
    # Swedish: no-break space groups, Swedish words
    pmedian = objective_summary(
        "pmedian", 7200.0 * 50, 3600.0 * 50, unit="people", threshold_min=20, busy_fraction=0.3,
        tr=SV,
    )  # fmt: skip
    assert pmedian == (f"pmedian: total responstid 6{NB}000 -> 3{NB}000 personminuter (-3{NB}000)")
    pcenter = objective_summary(
        "pcenter", 1530.0, 1170.0, unit="people", threshold_min=20, busy_fraction=0.3, tr=SV
    )
    assert pcenter == "pcenter: längsta responstid 25,5 min -> 19,5 min"
    mexclp = objective_summary(
        "mexclp", 80.0, 90.5, unit="people", threshold_min=7.5, busy_fraction=0.25, tr=SV
    )
    assert mexclp == (
        "mexclp: förväntad täckt efterfrågan 80 personer -> 90,5 personer inom 7,5 min "
        f"(enheterna upptagna 25,0{NB}% av tiden)"
    )


def test_comparison_summary_in_percentage_points_and_minutes() -> None:
    total = pd.DataFrame(
        {
            "demand_change": [120.0],
            "share_within_20_min_change": [0.0525],
            "median_min_change": [-1.25],
            "share_unreachable_change": [-0.01],
            "p90_min_change": [float("nan")],  # nothing reached in one of the runs
        }
    )
    runs = {"run_a": "2024", "run_b": "2025", "state_a": "before", "state_b": "after"}
    assert comparison_summary(total, unit="people", tr=EN, **runs) == (
        "2024 (before) -> 2025 (after): demand +120 people, within 20 min +5.2 percentage points, "
        "median response time -1.2 min, unreachable -1.0 percentage points, 90th percentile n/a"
    )
    assert comparison_summary(total, unit="people", tr=SV, **runs) == (
        "2024 (före) -> 2025 (efter): efterfrågan +120 personer, inom 20 min +5,2 procentenheter, "
        "medianresponstid -1,2 min, ej nåbar -1,0 procentenheter, "
        "90:e percentilen saknas"
    )


def test_conclusion_with_existing_stations(tmp_path: Path) -> None:
    before = {"demand": 1000.0, "share_within_20_min": 0.8, "median_min": 12.25}
    after = {"demand": 1000.0, "share_within_20_min": 0.9, "median_min": 10.0}
    where = {
        "map_path": tmp_path / "map.html",
        "report_path": tmp_path / "report.html",
        "excel_path": tmp_path / "after" / "coverage.xlsx",
    }
    found, change, look = conclusion_lines(
        region="Gotlands län", stations=4, unit="people", threshold_min=20, before=before,
        after=after, proposed=["Slite"], tr=EN, **where,
    )  # fmt: skip
    assert found == (
        "Found: with the 4 existing stations, 800 people of 1,000 people (80.0%) are within "
        "20 min; median response time 12.2 min."
    )
    assert change == (
        "Change: 1 proposed unit (Slite) brings 900 people (90.0%) within 20 min, up from 800 "
        "people (80.0%); median response time 12.2 min -> 10.0 min."
    )
    assert look == (
        f"Look: open {tmp_path / 'map.html'} (proposed sites, before/after switch) and "
        f"{tmp_path / 'report.html'} in a browser, {tmp_path / 'after' / 'coverage.xlsx'} in Excel."
    )
    found, change, look = conclusion_lines(
        region="Gotlands län", stations=4, unit="people", threshold_min=20, before=before,
        after=after, proposed=["Slite", "Hemse"], tr=SV, **where,
    )  # fmt: skip
    assert found == (
        f"Läge: med de 4 befintliga stationerna nås 800 personer av 1{NB}000 personer "
        f"(80,0{NB}%) inom 20 min; medianresponstid 12,2 min."
    )
    assert change == (
        "Förändring: 2 föreslagna enheter (Slite, Hemse) ger 900 personer "
        f"(90,0{NB}%) inom 20 min, upp från 800 personer (80,0{NB}%); medianresponstid "
        "12,2 min -> 10,0 min."
    )
    assert look == (
        f"Titta: öppna {tmp_path / 'map.html'} (föreslagna stationer, växla före/efter) och "
        f"{tmp_path / 'report.html'} i en webbläsare, {tmp_path / 'after' / 'coverage.xlsx'} "
        "i Excel."
    )


def test_output_guide_lists_what_exists(tmp_path: Path) -> None:
    paths = {"manifest": tmp_path / "manifest.json", "map": tmp_path / "map.html"}
    lines = output_guide(paths, tr=EN)
    assert lines[0] == f"outputs in {tmp_path} (the main ones):"
    assert output_guide(paths, tr=SV)[0] == f"resultat i {tmp_path} (de viktigaste):"
    assert "öppna i en webbläsare" in output_guide(paths, tr=SV)[1]
    assert [line.split()[0] for line in lines[1:]] == [str(paths["map"]), str(paths["manifest"])]
    assert "open it in a browser" in lines[1]
