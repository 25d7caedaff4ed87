"""Survival by patient group: the default curves against the published figures computed by hand,
the objective and survivor figures per group, scenario keys and the command line."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputFileError, ParameterError
from planner.optimise import (
    ContributionSettings,
    MaxSurvival,
    Solution,
    SurvivalGroup,
    make_instance,
    site_contributions,
    solve_exact,
    survivors_table,
    swedish_survival_groups,
)
from planner.outputs.export import read_csv_table
from planner.run.cli import main
from planner.run.scenario import load_scenario

#: Hasselqvist-Ax et al. (2015), NEJM: 30-day survival with / without bystander CPR,
#: and the share of arrests with CPR (15,512 of 30,381).
WITH_CPR, WITHOUT_CPR, CPR_SHARE = 0.105, 0.040, 15512 / 30381
#: Planning assumptions of planner.constants: shockable share, survival ratio, reference time.
SHOCKABLE, RATIO, T_REF = 0.25, 7.0, 10.0
B = 0.262  # De Maio et al. (2003)


def _by_hand(name: str) -> tuple[float, float]:
    """(share, survival at T_REF) of a group, from the published figures."""
    level = WITH_CPR if name.endswith("_cpr") and not name.endswith("no_cpr") else WITHOUT_CPR
    non_shockable = level / (1 - SHOCKABLE + SHOCKABLE * RATIO)  # 0.042 / 0.016
    cpr = CPR_SHARE if level == WITH_CPR else 1 - CPR_SHARE
    if name.startswith("shockable"):
        return SHOCKABLE * cpr, RATIO * non_shockable
    return (1 - SHOCKABLE) * cpr, non_shockable


def test_default_groups_match_the_published_figures() -> None:
    groups = {g.name: g for g in swedish_survival_groups()}
    assert list(groups) == [
        "shockable_cpr", "non_shockable_cpr", "shockable_no_cpr", "non_shockable_no_cpr"
    ]  # fmt: skip
    assert math.fsum(g.share for g in groups.values()) == pytest.approx(1.0)
    assert _by_hand("non_shockable_cpr")[1] == pytest.approx(0.042)
    assert _by_hand("shockable_no_cpr")[1] == pytest.approx(0.112)
    for name, group in groups.items():
        share, s_ref = _by_hand(name)
        assert group.share == pytest.approx(share, abs=1e-4)
        a = math.log(1 / s_ref - 1) - B * T_REF
        assert group.coefficients == pytest.approx((a, B))
        for t in (0.0, 5.0, 10.0, 17.5, 30.0):
            assert group.survival(np.array([t]))[0] == pytest.approx(1 / (1 + math.exp(a + B * t)))
        assert group.survival(np.array([np.inf]))[0] == 0.0
    at_ref = {name: float(g.survival(np.array([T_REF]))[0]) for name, g in groups.items()}
    # the register's figures come back: 10.5 % with CPR, 4.0 % without, at the reference time
    for cpr, level in (("cpr", WITH_CPR), ("no_cpr", WITHOUT_CPR)):
        mixed = (
            SHOCKABLE * at_ref[f"shockable_{cpr}"]
            + (1 - SHOCKABLE) * at_ref[f"non_shockable_{cpr}"]
        )
        assert mixed == pytest.approx(level)
        assert at_ref[f"shockable_{cpr}"] / at_ref[f"non_shockable_{cpr}"] == pytest.approx(RATIO)
    # every group's survival falls with time
    minutes = np.linspace(0, 40, 81)
    for group in groups.values():
        assert (np.diff(group.survival(minutes)) < 0).all()


def test_mixed_curve_is_the_share_weighted_sum() -> None:
    model = MaxSurvival(groups=swedish_survival_groups())
    minutes = np.array([2.0, 8.0, 15.0, np.inf])
    by_group = model.survival_by_group(minutes)
    expected = sum(
        g.share / (1 + np.exp(g.coefficients[0] + g.coefficients[1] * minutes[:3]))
        for g in swedish_survival_groups()
    )
    np.testing.assert_allclose(model.survival(minutes)[:3], expected)
    np.testing.assert_allclose(sum(by_group.values()), model.survival(minutes))
    assert model.survival(minutes)[3] == 0.0
    assert list(MaxSurvival().survival_by_group(minutes)) == ["all"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"groups": (SurvivalGroup("a", 0.5, (0.0, 0.2)),)},
            r"groups: the shares sum to 0.5, not 1",
        ),
        (
            {"groups": (SurvivalGroup("a", 0.5, (0, 0.2)), SurvivalGroup("a", 0.5, (0, 0.2)))},
            r"groups: names repeat \(a, a\)",
        ),
        (
            {"groups": (SurvivalGroup("a", 1, (0, 0.2)),), "steps": ((5.0, 0.5),)},
            r"steps and groups: give one of them",
        ),
        ({"groups": ()}, r"groups: give at least one SurvivalGroup"),
    ],
)
def test_bad_groups_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        MaxSurvival(**kwargs)  # type: ignore[arg-type]


def test_bad_group_fields_are_refused() -> None:
    with pytest.raises(ParameterError, match=r"survival group a: coefficients = \(0, -1\)"):
        SurvivalGroup("a", 0.5, (0, -1))
    with pytest.raises(ParameterError, match=r"survival group a: share = 2: need 0..1"):
        SurvivalGroup("a", 2, (0, 1))
    with pytest.raises(ParameterError, match=r"survival group name 'a b'"):
        SurvivalGroup("a b", 1, (0, 1))


def test_survivors_table_by_hand() -> None:
    model = MaxSurvival(groups=swedish_survival_groups())
    before = np.array([600.0, 1200.0, np.inf])
    after = np.array([300.0, 1200.0, 900.0])
    weight = np.array([1000.0, 2000.0, 500.0])
    table = survivors_table(
        {"before": before, "after": after}, weight, survival=model, arrests_per_weight=0.001
    ).set_index("group")
    for g in swedish_survival_groups():
        s = 1 / (1 + np.exp(g.coefficients[0] + g.coefficients[1] * after / 60))
        assert table.loc[g.name, "survivors_per_year_after"] == pytest.approx(
            0.001 * g.share * float(weight @ s)
        )
        assert table.loc[g.name, "arrests_per_year"] == pytest.approx(3.5 * g.share)
    groups = table.drop(index="total")
    for column in ("survivors_per_year_before", "survivors_per_year_after", "arrests_per_year"):
        assert table.loc["total", column] == pytest.approx(groups[column].sum())
    gained = table["survivors_per_year_after"] - table["survivors_per_year_before"]
    np.testing.assert_allclose(table["survivors_gained_per_year"], gained)
    assert (groups["survivors_gained_per_year"] > 0).all()


def test_exact_with_groups_equals_brute_force_and_contributions_split() -> None:
    rng = np.random.default_rng(4)
    cost = rng.uniform(120, 2400, (12, 6))
    weight = rng.integers(100, 3000, 12).astype(float)
    instance = make_instance(cost, weight, required=["site_0"])
    model = MaxSurvival(groups=swedish_survival_groups())
    groups = swedish_survival_groups()

    def by_hand(mask: np.ndarray) -> float:
        t = cost[:, mask].min(axis=1) / 60
        return sum(
            float(weight @ (g.share / (1 + np.exp(g.coefficients[0] + g.coefficients[1] * t))))
            for g in groups
        )

    best = max(
        by_hand(np.isin(np.arange(6), [0, *combo]))
        for combo in itertools.combinations(range(1, 6), 2)
    )
    solution = solve_exact(instance, model, p=2)
    assert solution.objective_after == pytest.approx(best, rel=1e-6)
    table = site_contributions(
        instance, solution, model, settings=ContributionSettings(survival=model)
    )
    per_group = table[[f"expected_survivors_per_year_{g.name}" for g in groups]].sum(axis=1)
    np.testing.assert_allclose(per_group, table["expected_survivors_per_year"])
    assert isinstance(solution, Solution)


SCENARIO = """
name = "t"
[region]
code = "09"
[roads]
source = "download"
[stations]
path = "stations.csv"
[[demand]]
type = "grid"
path = "grid.csv"
[optimise]
objective = "survival"
candidates = ["grid"]
{extra}
"""


def _scenario(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(extra=extra), encoding="utf-8")
    return path


def test_scenario_survival_groups_with_overrides(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "survival_groups = true\nsurvival_group_shares = [0.1, 0.4, 0.1, 0.4]\n"
        "survival_group_slopes = [0.3, 0.2, 0.3, 0.2]\ndrive_time_cv = 0.4",
    )
    scenario = load_scenario(path, check_files=False)
    assert scenario.optimise is not None
    groups = scenario.optimise.survival.groups
    assert groups is not None
    assert [g.share for g in groups] == [0.1, 0.4, 0.1, 0.4]
    defaults = swedish_survival_groups()
    assert [g.coefficients for g in groups] == [
        (d.coefficients[0], b) for d, b in zip(defaults, [0.3, 0.2, 0.3, 0.2], strict=True)
    ]
    assert scenario.optimise.drive_time_cv == 0.4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("survival_group_shares = [0.5, 0.5, 0, 0]", r"line 15: optimise\.survival_group_shares "
         r"needs survival_groups = true"),
        ("survival_groups = true\nsurvival_group_slopes = [0.2]", r"survival_group_slopes must "
         r"be 4 numbers, one per group \(shockable_cpr, "),
        ("survival_groups = true\nsurvival_group_shares = [0.5, 0.5, 0.5, 0.5]",
         r"optimise\.survival_groups: groups: the shares sum to 2, not 1"),
        ("survival_groups = true\nsurvival_coefficients = [0.679, 0.262]",
         r"optimise\.survival_groups and survival_coefficients: give one of them"),
    ],
)  # fmt: skip
def test_scenario_bad_survival_groups(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        load_scenario(_scenario(tmp_path, extra), check_files=False)


# Umeå: two stations on road nodes of the extract, and demand points around them.
STATIONS = "name,lon,lat\nA,20.2904843,63.8175017\nB,20.2895705,63.8169711\n"
DEMAND = (
    "name,lon,lat,population\np1,20.2904,63.8176,1000\np2,20.2850,63.8190,500\n"
    "p3,20.3000,63.8150,800\np4,20.2700,63.8250,1200\n"
)


@pytest.fixture(scope="module")
def umea_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("umea_inputs")
    (folder / "stations.csv").write_text(STATIONS, encoding="utf-8")
    (folder / "demand.csv").write_text(DEMAND, encoding="utf-8")
    return folder


def test_cli_optimise_with_groups_and_expected_coverage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, umea_osm: Path, umea_inputs: Path
) -> None:
    """--survival-groups writes survivors.csv per group; --drive-time-cv adds expected shares."""
    common = [
        "optimise", "--osm", str(umea_osm), "--no-cache", "--no-progress",
        "--stations", str(umea_inputs / "stations.csv"), "--demand",
        str(umea_inputs / "demand.csv"), "--candidates", "grid", "--grid-spacing-m", "500",
        "--no-gain-curve", "--add", "1",
    ]  # fmt: skip
    out = tmp_path / "groups"
    code = main([*common, "--objective", "survival", "--survival-groups", "--out-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    survivors = read_csv_table(out / "survivors.csv")
    assert list(survivors["group"]) == [g.name for g in swedish_survival_groups()] + ["total"]
    groups = survivors.iloc[:4]
    for column in ("survivors_per_year_before", "survivors_per_year_after"):
        assert survivors[column].iloc[4] == pytest.approx(groups[column].sum())
    assert survivors["survivors_gained_per_year"].iloc[4] >= 0
    sites = read_csv_table(out / "sites.csv")
    assert "expected_survivors_per_year_shockable_cpr" in sites.columns

    out2 = tmp_path / "expected"
    code = main(
        [*common, "--objective", "expected", "--drive-time-cv", "0.3", "--out-dir", str(out2)]
    )
    assert code == 0, capsys.readouterr().err
    after = read_csv_table(out2 / "coverage_after_total.csv")
    assert {"share_within_20_min", "expected_share_within_20_min"} <= set(after.columns)
    assert 0 < float(after["expected_share_within_20_min"].iloc[0]) <= 1
    assert not (out2 / "survivors.csv").exists()
    assert pd.api.types.is_numeric_dtype(after["expected_share_within_10_min"])


def test_plan_scenario_with_groups_and_dispersion(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, andorra_scenario_dir: Path
) -> None:
    """A whole plan (Andorra example) with survival groups and a drive-time spread."""
    folder = tmp_path / "scenario"
    folder.mkdir()
    for name in ("andorra.geojson", "demand.csv", "stations.csv"):
        (folder / name).write_bytes((andorra_scenario_dir / name).read_bytes())
    text = (andorra_scenario_dir / "andorra.toml").read_text(encoding="utf-8")
    text = text.replace(
        "thresholds_min = [10, 20]", "thresholds_min = [10, 20]\ndrive_time_cv = 0.3"
    )
    text = text.replace('objective = "mclp"', 'objective = "survival"\nsurvival_groups = true')
    (folder / "andorra.toml").write_text(text, encoding="utf-8")
    code = main(["plan", str(folder / "andorra.toml"), "--no-cache", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    out = folder / "out" / "andorra"
    survivors = read_csv_table(out / "optimise" / "survivors.csv")
    assert list(survivors["group"])[-1] == "total" and len(survivors) == 5
    total = read_csv_table(next(out.rglob("coverage_total.csv")))
    share = total["share_within_20_min"].astype(float).iloc[0]
    expected = total["expected_share_within_20_min"].astype(float).iloc[0]
    assert 0 < expected <= 1 and abs(expected - share) < 0.5
