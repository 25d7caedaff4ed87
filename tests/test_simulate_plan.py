"""The simulation in a scenario: ``planner plan`` with ``[simulate]``, and ``planner simulate``.

The Andorra example scenario (real OSM extract, SYNTHETIC demand) runs through
the CLI in this process. The KPI files are checked against the call log they
come from (medians, shares and Student-t intervals recomputed here with numpy
and scipy), the before and after states against each other (the same calls:
common random numbers), ``planner simulate`` against the plan's ``before``
state, and the PAM comparison against the fleet each call was served by.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from scipy import stats

from planner.run.cli import main

#: A short [simulate] for the tests: 20 days, 3 replications, every call log kept.
SIMULATE = """[simulate]
emergency_only = false
calls_per_1000 = 110
days = 20
replications = 3
log_replications = 3
seed = 5
"""

#: Columns that describe a call itself (not how it was served): equal in every state.
CALL_COLUMNS = ["call", "t_call", "point", "priority", "psychiatric", "counted"]


def _scenario(folder: Path, name: str, simulate: str) -> Path:
    """The example scenario of ``andorra_scenario_dir`` with another [simulate] section."""
    text = (folder / "andorra.toml").read_text(encoding="utf-8")
    head, rest = text.split("[simulate]", 1)
    rest = rest[rest.index("[optimise]") :]
    path = folder / f"{name}.toml"
    path.write_text(head + simulate + "\n" + rest, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(andorra_scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``planner plan`` and ``planner simulate`` on the same scenario, and a PAM run."""
    work = tmp_path_factory.mktemp("simulate_plan")
    folder = work / "scenario"
    shutil.copytree(andorra_scenario_dir, folder, ignore=shutil.ignore_patterns("out", "maps"))
    scenario = _scenario(folder, "sim", SIMULATE)
    cache = str(work / "cache")
    out = {"plan": work / "plan", "simulate": work / "simulate", "pam": work / "pam"}
    args = ["--cache-dir", cache, "--no-progress"]
    assert main(["plan", str(scenario), "--out-dir", str(out["plan"]),
                 "--map", str(work / "map.html"), *args]) == 0  # fmt: skip
    assert main(["simulate", str(scenario), "--out-dir", str(out["simulate"]), *args]) == 0
    # the PAM question: a psychiatric unit at Andorra la Vella, on duty 14-02
    stations = pd.read_csv(folder / "stations.csv")
    pam = stations.iloc[[0]].assign(name="PAM Andorra la Vella", fleet="psychiatric")
    pd.concat([stations, pam]).to_csv(folder / "stations_pam.csv", index=False)
    pam_scenario = _scenario(
        folder, "pam", SIMULATE + "compare_psychiatric = true\npsychiatric_share = 0.15\n"
    )
    text = pam_scenario.read_text(encoding="utf-8").replace('"stations.csv"', '"stations_pam.csv"')
    pam_scenario.write_text(text, encoding="utf-8")
    assert main(["simulate", str(pam_scenario), "--out-dir", str(out["pam"]), *args]) == 0
    return out


def _t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    mean = float(np.mean(values))
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * np.std(values, ddof=1)
    half /= np.sqrt(len(values))
    return mean, mean - half, mean + half


def _prio1_medians(log: pd.DataFrame, state: str) -> np.ndarray:
    """Each replication's prio-1 median response (min) of the counted, served calls."""
    rows = log.loc[(log["state"] == state) & log["counted"] & (log["priority"] == 1)]
    rows = rows.loc[rows["status"] == "served"]
    return rows.groupby("replication")["response_s"].median().sort_index().to_numpy() / 60.0


def test_plan_simulates_before_and_after_on_the_same_calls(runs: dict[str, Path]) -> None:
    folder = runs["plan"] / "simulate"
    log = pd.read_parquet(folder / "calls.parquet")
    assert set(log["state"]) == {"before", "after"}
    assert sorted(set(log["replication"])) == [0, 1, 2]
    before = log.loc[log["state"] == "before"].reset_index(drop=True)
    after = log.loc[log["state"] == "after"].reset_index(drop=True)
    # common random numbers: every replication has the same calls in both states
    pd.testing.assert_frame_equal(before[["replication", *CALL_COLUMNS]],
                                  after[["replication", *CALL_COLUMNS]])  # fmt: skip
    assert before["counted"].any() and (~before["counted"]).any()  # one day of warm-up
    # the proposed units (add = 2) serve calls only after
    stations = pd.read_csv(folder / "utilisation_stations.csv")
    proposed = set(stations.loc[stations["state"] == "after", "station"]) - set(
        stations.loc[stations["state"] == "before", "station"]
    )
    assert len(proposed) == 2
    assert set(after["station"].dropna()) & proposed
    assert not set(before["station"].dropna()) & proposed


def test_kpi_summary_is_the_mean_of_the_call_logs_with_t_intervals(
    runs: dict[str, Path],
) -> None:
    folder = runs["plan"] / "simulate"
    log = pd.read_parquet(folder / "calls.parquet")
    summary = pd.read_csv(folder / "kpi_summary.csv", comment="#").set_index("figure")
    medians = {state: _prio1_medians(log, state) for state in ("before", "after")}
    for state, values in medians.items():
        mean, low, high = _t_interval(values)
        row = summary.loc["prio1_median_min"]
        assert row[state] == pytest.approx(mean, rel=1e-9)
        assert row[f"{state}_ci_low"] == pytest.approx(low, rel=1e-9)
        assert row[f"{state}_ci_high"] == pytest.approx(high, rel=1e-9)
    # the paired difference, after minus before, replication by replication
    mean, low, high = _t_interval(medians["after"] - medians["before"])
    row = summary.loc["prio1_median_min"]
    assert (row["difference"], row["difference_ci_low"], row["difference_ci_high"]) == (
        pytest.approx(mean, rel=1e-9), pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9)
    )  # fmt: skip
    # two more units: prio-1 calls are reached sooner (far beyond the noise on Andorra)
    assert row["difference_ci_high"] < 0
    # the share within 20 min counts unserved calls as not reached
    counted = log.loc[(log["state"] == "before") & log["counted"] & (log["priority"] == 1)]
    within = (counted["status"] == "served") & (counted["response_s"] <= 20 * 60)
    shares = within.groupby(counted["replication"]).mean().to_numpy()
    assert summary.loc["prio1_share_within_20_min", "before"] == pytest.approx(shares.mean())


def test_plan_files_workbook_layers_and_manifest(runs: dict[str, Path]) -> None:
    out = runs["plan"]
    folder = out / "simulate"
    names = {p.name for p in folder.iterdir() if not p.name.endswith(".meta.json")}
    assert names == {
        "calls.parquet", "kpi_summary.csv", "kpi_total.csv", "kpi_region.csv",
        "kpi_municipality.csv", "utilisation_units.csv", "utilisation_stations.csv",
        "settings.csv", "simulation.xlsx", "simulation.gpkg",
    }  # fmt: skip
    book = load_workbook(folder / "simulation.xlsx", read_only=True)
    sheets = {"Simulation summary", "Simulated KPIs, total", "Settings", "Utilisation per station"}
    assert sheets <= set(book.sheetnames)  # readable names in the scenario's language (English)
    layers = gpd.list_layers(folder / "simulation.gpkg")["name"].tolist()
    assert sorted(layers) == ["areas", "hospitals", "metadata", "stations"]
    hospitals = gpd.read_file(folder / "simulation.gpkg", layer="hospitals")
    assert len(hospitals) == 7  # every OSM hospital of Andorra (emergency_only = false)
    settings = pd.read_csv(folder / "settings.csv", comment="#").set_index("setting")
    assert int(float(settings.loc["replications", "value"])) == 3
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sim = manifest["simulation"]
    assert sim["replications"] == 3 and sim["seed"] == 5
    assert sim["states"] == ["before", "after"] and sim["common_random_numbers"] is True
    assert sim["runs"]["before"]["events"] > 0
    assert "simulate/calls.parquet" in manifest["outputs"]
    assert "simulate" in manifest["stage_seconds"]


def test_simulate_command_equals_the_plans_before_state(runs: dict[str, Path]) -> None:
    """The same scenario and seed: ``planner simulate`` is the plan's ``before``, call by call."""
    plan = pd.read_parquet(runs["plan"] / "simulate" / "calls.parquet")
    alone = pd.read_parquet(runs["simulate"] / "calls.parquet")
    assert set(alone["state"]) == {"before"}
    before = plan.loc[plan["state"] == "before"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), before, check_dtype=False)
    summary = pd.read_csv(runs["simulate"] / "kpi_summary.csv", comment="#")
    assert "difference" not in summary and "after" not in summary
    manifest = json.loads((runs["simulate"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["simulation"]["states"] == ["before"]
    assert set(manifest["outputs"]) >= {"calls.parquet", "kpi_summary.csv", "simulation.xlsx"}


def test_psychiatric_fleet_with_and_without(runs: dict[str, Path]) -> None:
    folder = runs["pam"]
    log = pd.read_parquet(folder / "calls.parquet")
    assert set(log["state"]) == {"before", "without_psychiatric"}
    with_pam = log.loc[log["state"] == "before"].reset_index(drop=True)
    without = log.loc[log["state"] == "without_psychiatric"].reset_index(drop=True)
    pd.testing.assert_frame_equal(with_pam[["replication", *CALL_COLUMNS]],
                                  without[["replication", *CALL_COLUMNS]])  # fmt: skip
    assert not (without["fleet"] == "psychiatric").any()
    # the PAM serves only psychiatric calls, and only in its hours 14-02
    by_pam = with_pam.loc[with_pam["fleet"] == "psychiatric"]
    assert len(by_pam) and by_pam["psychiatric"].all()
    hour = (by_pam["t_dispatch"] // 3600 % 24).astype(int)
    assert hour.isin([*range(14, 24), 0, 1]).all()
    table = pd.read_csv(folder / "psychiatric.csv", comment="#").set_index("figure")
    counted = with_pam.loc[with_pam["counted"] & with_pam["psychiatric"]]
    shares = (counted["fleet"] == "psychiatric").groupby(counted["replication"]).mean()
    assert table.loc["psychiatric_by_pam", "with_psychiatric"] == pytest.approx(shares.mean())
    assert table.loc["psychiatric_by_pam", "without_psychiatric"] == 0
    # the difference is with minus without, paired by replication
    regular = {
        s: _prio1_medians(log.loc[~log["psychiatric"]].assign(state=log["state"]), s)
        for s in ("before", "without_psychiatric")
    }
    mean, _, _ = _t_interval(regular["before"] - regular["without_psychiatric"])
    assert table.loc["regular_prio1_median_min", "difference"] == pytest.approx(mean, rel=1e-9)


def test_station_never_on_duty_warns_and_the_run_goes_on(
    andorra_scenario_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Legal but suspicious: a station whose shifts never have a unit on duty."""
    folder = tmp_path / "scenario"
    shutil.copytree(andorra_scenario_dir, folder, ignore=shutil.ignore_patterns("out", "maps"))
    off = "\n[simulate.shifts]\nEncamp = [" + ", ".join(["0"] * 24) + "]\n"
    scenario = _scenario(folder, "off", SIMULATE.replace("days = 20", "days = 5") + off)
    out = tmp_path / "sim"
    code = main(["simulate", str(scenario), "--out-dir", str(out), "--no-progress",
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert "warning: simulation (before): stations never on duty in the shifts: Encamp" in warned
    log = pd.read_parquet(out / "calls.parquet")
    assert (log["status"] == "served").any()
    assert set(log["station"].dropna()) == {"Andorra la Vella"}  # Encamp never sends a unit
    stations = pd.read_csv(out / "utilisation_stations.csv").set_index("station")
    assert stations.loc["Encamp", "on_duty_h"] == 0
    assert stations.loc["Andorra la Vella", "on_duty_h"] == pytest.approx(5 * 24 - 24)


def _in_page(text: str, page: str) -> bool:
    """Whether ``text`` is in the page, as written or JSON-escaped (non-ASCII as \\uXXXX)."""
    return text in page or json.dumps(text)[1:-1] in page


def test_map_and_report_show_the_simulation(runs: dict[str, Path]) -> None:
    """The map's simulation overlays and the report's section carry the simulated figures."""
    from planner.i18n import translator

    tr = translator("en")  # Andorra is outside Sweden: English
    page = (runs["plan"].parent / "map.html").read_text(encoding="utf-8")
    for name in ("Simulated prio-1 response (before)", "Simulated prio-1 response (after)",
                 "Simulated utilisation (before)", "Simulated utilisation (after)"):  # fmt: skip
        assert _in_page(name, page), name
    areas = gpd.read_file(runs["plan"] / "simulate" / "simulation.gpkg", layer="areas")
    drawn = areas[areas.geometry.notna()]
    assert len(drawn)
    for _, row in drawn.iterrows():
        low, high = tr.minutes(row["median_min_ci_low"]), tr.minutes(row["median_min_ci_high"])
        assert _in_page(f"{tr.minutes(row['median_min'])} ({low}–{high})", page)
    stations = gpd.read_file(runs["plan"] / "simulate" / "simulation.gpkg", layer="stations")
    for _, row in stations.iterrows():
        busy = tr.percent(row["utilisation"])
        low, high = tr.percent(row["utilisation_ci_low"]), tr.percent(row["utilisation_ci_high"])
        assert _in_page(f"{busy} ({low}–{high})", page)
    report = (runs["plan"] / "report.html").read_text(encoding="utf-8")
    section = report[report.index('<section id="simulation">') :]
    section = section[: section.index("</section>")]
    summary = pd.read_csv(runs["plan"] / "simulate" / "kpi_summary.csv", comment="#")
    row = summary.set_index("figure").loc["prio1_median_min"]
    assert "Prio-1 median response time" in section
    for column in ("before", "after"):
        assert f"<td>{tr.minutes(row[column])}<br><small>" in section
    change = tr.minutes(row["difference"], signed=True)
    assert change.startswith("-") and f"<td>{change}<br><small>" in section
    assert "3 independent replications of 20 days" in section


def test_simulate_in_swedish_writes_excel_tables(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``planner simulate --lang sv``: Swedish console, sheet names, ';' CSV with a BOM."""
    from planner.i18n import translator

    scenario = runs["plan"].parent / "scenario" / "sim.toml"
    out = runs["plan"].parent / "simulate-sv"
    cache = str(runs["plan"].parent / "cache")
    args = ["simulate", str(scenario), "--out-dir", str(out), "--cache-dir", cache]
    assert main([*args, "--no-progress", "--lang", "sv"]) == 0
    assert (out / "kpi_summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    swedish = pd.read_csv(out / "kpi_summary.csv", sep=";", decimal=",", comment="#",
                          encoding="utf-8-sig").set_index("figure")  # fmt: skip
    english = pd.read_csv(runs["simulate"] / "kpi_summary.csv", comment="#").set_index("figure")
    pd.testing.assert_frame_equal(swedish, english, check_exact=False, rtol=1e-12)
    book = load_workbook(out / "simulation.xlsx", read_only=True)
    assert {"Simulering, sammanfattning", "Beläggning per station"} <= set(book.sheetnames)
    # the console's KPI table in Swedish, numbers as Swedish writes them
    console = capsys.readouterr().err
    tr = translator("sv")
    row = english.loc["prio1_median_min"]
    low, high = tr.minutes(row["before_ci_low"]), tr.minutes(row["before_ci_high"])
    assert "simulering: 3 replikeringar, frö 5; medelvärde över replikeringarna" in console
    files = [p for p in out.iterdir() if not p.name.endswith(".meta.json") and p.name[0] != "."]
    n = len(files) - 1  # every file but the manifest, which has its own line
    wrote = tr.ngettext(
        "wrote {n} table or layer under {folder}", "wrote {n} tables and layers under {folder}", n
    ).format(n=tr.number(n), folder=out)
    assert wrote in console and not wrote.startswith("wrote")  # Swedish, and counted right
    line = next(x for x in console.splitlines() if "Medianresponstid prio 1" in x)
    assert f"{tr.minutes(row['before'])} [{low}, {high}]" in line


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_simulate_with_a_speed_profile(
    runs: dict[str, Path], tmp_path: Path, andorra_scenario_dir: Path, factor: float
) -> None:
    """``[speeds] profile``: each call drives at its band's speeds; factors of 1 change nothing."""
    folder = tmp_path / "scenario"
    shutil.copytree(andorra_scenario_dir, folder, ignore=shutil.ignore_patterns("out", "maps"))
    (folder / "night.csv").write_text(
        f"band,days,start,end,other\nnight,all,22:00,06:00,{factor}\nrest,all,06:00,22:00,1\n",
        encoding="utf-8",
    )
    scenario = _scenario(folder, "sim", '[speeds]\nprofile = "night.csv"\n\n' + SIMULATE)
    out = tmp_path / "out"
    args = ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(["simulate", str(scenario), "--out-dir", str(out), *args]) == 0
    banded = pd.read_parquet(out / "calls.parquet")
    plain = pd.read_parquet(runs["simulate"] / "calls.parquet")
    if factor == 1.0:
        pd.testing.assert_frame_equal(banded, plain, check_exact=True)
        return
    pd.testing.assert_frame_equal(banded[CALL_COLUMNS], plain[CALL_COLUMNS])
    hour = (banded["t_call"] // 3600 % 24).to_numpy()
    night = (hour >= 22) | (hour < 6)
    drive = (banded["t_arrive"] - banded["t_dispatch"]).to_numpy()
    before = (plain["t_arrive"] - plain["t_dispatch"]).to_numpy()
    ok = np.isfinite(drive) & np.isfinite(before)
    assert np.median(drive[night & ok]) > 1.5 * np.median(before[night & ok])
    assert np.median(drive[~night & ok]) < 1.1 * np.median(before[~night & ok])
