"""Tests of planner.network.speeds, against values worked out by hand."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from planner import constants
from planner.errors import DataError, ParameterError
from planner.network.speeds import (
    SpeedModel,
    add_edge_speeds,
    describe_speed_model,
    parse_duration,
    parse_maxspeed,
    road_speeds_kph,
)

# --------------------------------------------------------------------------
# parse_maxspeed
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        (" 50 ", 50.0),
        ("50 km/h", 50.0),
        ("50km/h", 50.0),
        ("50kmh", 50.0),
        ("50 kph", 50.0),
        (50, 50.0),
        (50.0, 50.0),
        ("30 mph", 30 * 1.609344),
        ("30mph", 30 * 1.609344),
        ("10 knots", 10 * 1.852),
        ("7.5", 7.5),
        ("70,50", 50.0),  # a list (Swedish data), not 70.5
        ("50, 70", 50.0),
        ("7,5", 5.0),  # a comma is never a decimal comma
        ("90,SE:urban", 50.0),
        ("SE:urban", 50.0),
        ("se:URBAN", 50.0),
        ("SE:rural", 70.0),
        ("SE:motorway", 110.0),
        ("SE:living_street", 7.0),
        ("walk", 7.0),
        ("Walk", 7.0),
        ("gångfart", 7.0),
        ("DE:zone30", 30.0),
        ("50;70", 50.0),
        ("70;50", 50.0),
        ("50|70", 50.0),
        ("SE:rural;50", 50.0),
        (["50", "70"], 50.0),
        (["70", None, "SE:urban"], 50.0),
        (("90", "signals"), 90.0),
        ("none;60", 60.0),
    ],
)
def test_parse_maxspeed_values(value: object, expected: float) -> None:
    result = parse_maxspeed(value)
    assert result is not None
    assert result == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "value",
    [
        None,
        float("nan"),
        np.nan,
        pd.NA,
        "",
        "   ",
        "none",
        "None",
        "signals",
        "variable",
        "implicit",
        "unposted",
        "no",
        "fast",
        "-20",
        "0",
        0,
        -20,
        "RU:urban",
        "500",
        "50 furlongs",
        [],
        ["none", "fast"],
        True,
        {"a": 1},
    ],
)
def test_parse_maxspeed_unusable(value: object) -> None:
    assert parse_maxspeed(value) is None


def test_parse_maxspeed_mph_exact() -> None:
    result = parse_maxspeed("30 mph")
    assert result is not None
    assert abs(result - 30 * 1.609344) < 1e-9
    assert result == pytest.approx(48.28032)


# --------------------------------------------------------------------------
# parse_duration
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45", 2700.0),
        (45, 2700.0),
        ("7.5", 450.0),
        ("0:45", 2700.0),
        ("00:45", 2700.0),
        ("1:30", 5400.0),
        ("0:30", 1800.0),
        ("1:30:00", 5400.0),
        ("00:20:30", 1230.0),
        ("PT45M", 2700.0),
        ("PT1H30M", 5400.0),
        ("pt1h", 3600.0),
        ("PT90S", 90.0),
        ("P1DT2H", 93600.0),
        (" 0:45 ", 2700.0),
    ],
)
def test_parse_duration_values(value: object, expected: float) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        float("nan"),
        "",
        "soon",
        "0",
        "0:00",
        "1:75",
        "1:30:75",
        "PT",
        "P1DT",
        "-5",
        "1h",
        ["45"],
    ],
)
def test_parse_duration_unusable(value: object) -> None:
    assert parse_duration(value) is None


# --------------------------------------------------------------------------
# road_speeds_kph
# --------------------------------------------------------------------------


def test_road_speeds_hand_values() -> None:
    model = SpeedModel()
    highway = pd.Series(
        ["primary", "motorway", "living_street", "motorway", "unknown_class", "residential"]
    )
    maxspeed = pd.Series(["SE:rural", None, np.nan, "none", "fast", "30"])
    result = road_speeds_kph(highway, maxspeed, model=model)
    expected = [
        70 * 1.15,  # 80.5: posted rural limit x factor
        min(110 * 1.15, 140),  # 126.5: class speed, below the maximum
        max(7 * 1.15, 5),  # 8.05: living street, above the minimum
        110 * 1.15,  # "none" -> class speed
        40 * 1.15,  # unknown class, garbage maxspeed -> fallback 40
        30 * 1.15,  # posted 30
    ]
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


def test_road_speeds_osmnx_lists() -> None:
    model = SpeedModel()
    highway = [["bogus", "secondary"], ["primary", "secondary"], "trunk"]
    maxspeed = [["70", "50"], np.nan, ["90", "80"]]
    result = road_speeds_kph(highway, maxspeed, model=model)
    np.testing.assert_allclose(result, [50 * 1.15, 80 * 1.15, 80 * 1.15], atol=1e-12)


def test_road_speeds_equal_length_lists_stay_elements() -> None:
    # Two lists of two classes must not become a 2x2 array.
    result = road_speeds_kph([["primary", "x"], ["trunk", "y"]], None, model=SpeedModel())
    np.testing.assert_allclose(result, [80 * 1.15, 90 * 1.15], atol=1e-12)


def test_road_speeds_ignore_maxspeed() -> None:
    model = SpeedModel(use_maxspeed=False)
    result = road_speeds_kph(["primary"], ["30"], model=model)
    np.testing.assert_allclose(result, [80 * 1.15], atol=1e-12)


def test_road_speeds_clamp_custom_model() -> None:
    model = SpeedModel(blue_light_factor=2.0, min_speed_kph=20.0, max_speed_kph=100.0)
    result = road_speeds_kph(
        ["living_street", "motorway", "primary", "tertiary"],
        [None, None, "45", "5"],
        model=model,
    )
    # 7*2=14 -> 20 (min); 110*2=220 -> 100 (max); 45*2=90; 5*2=10 -> 20 (min)
    np.testing.assert_allclose(result, [20.0, 100.0, 90.0, 20.0], atol=1e-12)


def test_road_speeds_length_mismatch() -> None:
    with pytest.raises(ParameterError, match=r"maxspeed: has 1 values but highway has 2"):
        road_speeds_kph(["primary", "trunk"], ["50"], model=SpeedModel())


def test_road_speeds_rejects_scalar() -> None:
    with pytest.raises(ParameterError, match=r"highway: expected a sequence"):
        road_speeds_kph("primary", None, model=SpeedModel())


# --------------------------------------------------------------------------
# add_edge_speeds
# --------------------------------------------------------------------------


def test_add_edge_speeds_roads() -> None:
    edges = pd.DataFrame(
        {
            "length": [1000.0, 250.0, 0.0, 80.0],
            "highway": ["primary", "motorway", "residential", "living_street"],
            "maxspeed": ["SE:rural", np.nan, "30", None],
        },
        index=pd.Index([10, 11, 12, 13], name="edge"),
    )
    before = edges.copy()
    out = add_edge_speeds(edges, model=SpeedModel())
    pd.testing.assert_frame_equal(edges, before)  # input untouched
    assert out.index.equals(edges.index)
    speeds = [80.5, 126.5, 34.5, 8.05]
    np.testing.assert_allclose(out["speed_kph"], speeds, atol=1e-12)
    expected_time = [
        1000 / (80.5 / 3.6),  # 44.72 s
        250 / (126.5 / 3.6),  # 7.11 s
        0.0,  # zero-length edge
        80 / (8.05 / 3.6),  # 35.78 s
    ]
    np.testing.assert_allclose(out["travel_time"], expected_time, rtol=1e-12)
    assert out["travel_time"].iloc[2] == 0.0
    assert out["travel_time"].iloc[0] == pytest.approx(44.72049689, abs=1e-6)


def test_add_edge_speeds_direction_specific_limits() -> None:
    """maxspeed:forward holds along the way's drawn direction, maxspeed:backward against it.

    Each row is one edge; ``reversed`` says it runs against its way (the
    twin of a two-way road, or the only edge of a oneway=-1 way). By hand:
    speed = limit × 1.15, time = length / (speed / 3.6).
    """
    edges = pd.DataFrame(
        {
            "length": [1000.0] * 7,
            "highway": ["primary"] * 7,
            "maxspeed": ["70", "70", "70", None, "70", "70", None],
            "maxspeed:forward": ["50", "50", None, None, "signals", "90", None],
            "maxspeed:backward": ["30", "30", "30", "40", None, "30", None],
            "reversed": [False, True, True, True, False, True, False],
        }
    )
    out = add_edge_speeds(edges, model=SpeedModel())
    # along: forward 50; against: backward 30; backward only: 70 along, 30 against;
    # no general limit: 40 against; unusable forward: the general 70; oneway=-1
    # (its one edge runs against the way): backward 30; no tag at all: primary 80
    limits = np.array([50, 30, 30, 40, 70, 30, 80])
    np.testing.assert_allclose(out["speed_kph"], limits * 1.15, rtol=1e-12)
    np.testing.assert_allclose(out["travel_time"], 1000 / (limits * 1.15 / 3.6), rtol=1e-12)
    # without `reversed`, every edge is taken to run along its way
    along = add_edge_speeds(edges.drop(columns="reversed"), model=SpeedModel())
    np.testing.assert_allclose(along["speed_kph"], np.array([50, 50, 70, 80, 70, 90, 80]) * 1.15)


def test_add_edge_speeds_without_maxspeed_column() -> None:
    edges = pd.DataFrame({"length": [900.0], "highway": ["trunk"]})
    out = add_edge_speeds(edges, model=SpeedModel())
    assert out["speed_kph"].iloc[0] == pytest.approx(103.5)
    assert out["travel_time"].iloc[0] == pytest.approx(900 / (103.5 / 3.6))


def test_add_edge_speeds_ferry_duration_split_by_length() -> None:
    edges = pd.DataFrame(
        {
            "length": [600.0, 400.0, 500.0],
            "highway": [np.nan, np.nan, "primary"],
            "maxspeed": [None, None, "SE:rural"],
            "route": ["ferry", "ferry", np.nan],
            "duration": ["0:30", "0:30", np.nan],
            "way_length": [1000.0, 1000.0, 500.0],
        }
    )
    out = add_edge_speeds(edges, model=SpeedModel())
    # 30 min = 1800 s over a 1000 m way: 600 m -> 1080 s, 400 m -> 720 s.
    np.testing.assert_allclose(out["travel_time"].iloc[:2], [1080.0, 720.0], rtol=1e-12)
    # Implied ferry speed: 1000 m in 1800 s = 2 km/h (no factor, no minimum clamp).
    np.testing.assert_allclose(out["speed_kph"].iloc[:2], [2.0, 2.0], rtol=1e-12)
    assert out["travel_time"].iloc[2] == pytest.approx(500 / (80.5 / 3.6))


def test_add_edge_speeds_ferry_without_duration_uses_ferry_speed() -> None:
    edges = pd.DataFrame(
        {
            "length": [1500.0, 1500.0, 0.0, 1500.0],
            "highway": [np.nan, "primary", np.nan, np.nan],
            "route": ["ferry", "ferry", "ferry", "ferry"],
            "duration": [np.nan, "soon", "0:10", "1"],
            "way_length": [1500.0, 1500.0, 1500.0, 1_000_000.0],
        }
    )
    out = add_edge_speeds(edges, model=SpeedModel(ferry_speed_kph=18.0))
    # 1500 m at 18 km/h (5 m/s) = 300 s; unreadable duration falls back too;
    # zero length -> 0 s; 1000 km in 1 minute is absurd -> ferry speed.
    np.testing.assert_allclose(out["travel_time"], [300.0, 300.0, 0.0, 300.0], rtol=1e-12)
    np.testing.assert_allclose(out["speed_kph"], [18.0, 18.0, 18.0, 18.0], rtol=1e-12)


def test_add_edge_speeds_ferry_duration_without_way_length() -> None:
    edges = pd.DataFrame(
        {"length": [1500.0], "highway": [np.nan], "route": ["ferry"], "duration": ["0:30"]}
    )
    out = add_edge_speeds(edges, model=SpeedModel())
    assert out["travel_time"].iloc[0] == pytest.approx(1500 / (15.0 / 3.6))  # 360 s


def test_add_edge_speeds_ferry_route_list() -> None:
    edges = pd.DataFrame(
        {
            "length": [3000.0, 100.0],
            "highway": [np.nan, "residential"],
            "route": [["ferry", "ferry"], np.nan],
        }
    )
    out = add_edge_speeds(edges, model=SpeedModel())
    np.testing.assert_allclose(out["travel_time"], [720.0, 100 / (46.0 / 3.6)], rtol=1e-12)


def test_add_edge_speeds_finite_everywhere() -> None:
    rng = np.random.default_rng(0)
    n = 200
    edges = pd.DataFrame(
        {
            "length": rng.uniform(0, 5000, n),
            "highway": rng.choice(["primary", "motorway", "living_street", "weird"], n),
            "maxspeed": rng.choice(["50", "none", "SE:urban", "", "30 mph"], n),
            "route": rng.choice(["ferry", "bus", ""], n),
            "duration": rng.choice(["0:30", "", "x"], n),
            "way_length": rng.choice([0.0, 1000.0, np.nan], n),
        }
    )
    out = add_edge_speeds(edges, model=SpeedModel())
    assert np.isfinite(out["travel_time"]).all()
    assert (out["travel_time"] >= 0).all()
    assert (out["speed_kph"] > 0).all()


@pytest.mark.parametrize("column", ["length", "highway"])
def test_add_edge_speeds_missing_column(column: str) -> None:
    edges = pd.DataFrame({"length": [1.0], "highway": ["primary"]}).drop(columns=column)
    with pytest.raises(ParameterError, match=rf"required column '{column}' is missing"):
        add_edge_speeds(edges, model=SpeedModel())


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, "long"])
def test_add_edge_speeds_bad_length(bad: object) -> None:
    edges = pd.DataFrame({"length": [10.0, bad], "highway": ["primary", "primary"]})
    with pytest.raises(DataError, match=r"column 'length' has 1 .* \(first at index 1\)"):
        add_edge_speeds(edges, model=SpeedModel())


# --------------------------------------------------------------------------
# SpeedModel
# --------------------------------------------------------------------------


def test_defaults_come_from_constants() -> None:
    model = SpeedModel()
    assert dict(model.highway_speeds_kph) == dict(constants.HIGHWAY_SPEEDS_KPH)
    assert model.fallback_speed_kph == constants.FALLBACK_SPEED_KPH
    assert model.blue_light_factor == constants.BLUE_LIGHT_FACTOR
    assert model.min_speed_kph == constants.MIN_SPEED_KPH
    assert model.max_speed_kph == constants.MAX_SPEED_KPH
    assert model.ferry_speed_kph == constants.FERRY_SPEED_KPH
    assert model.use_maxspeed is True
    assert model.turnout_s == constants.DISPATCH_S + constants.ROLL_OUT_S == 180.0


def test_highway_table_is_read_only_copy() -> None:
    table = {"primary": 80.0}
    model = SpeedModel(highway_speeds_kph=table)
    table["primary"] = 1.0
    assert model.highway_speeds_kph["primary"] == 80.0
    with pytest.raises(TypeError):
        model.highway_speeds_kph["primary"] = 5.0  # type: ignore[index]


def test_to_dict_json_sorted_and_hashable() -> None:
    model = SpeedModel(dispatch_s=90)
    d = model.to_dict()
    assert list(d) == sorted(d)
    assert list(d["highway_speeds_kph"]) == sorted(d["highway_speeds_kph"])
    assert set(d) == {
        "blue_light_factor",
        "dispatch_s",
        "fallback_speed_kph",
        "ferry_speed_kph",
        "highway_speeds_kph",
        "max_speed_kph",
        "min_speed_kph",
        "roll_out_s",
        "use_maxspeed",
    }
    assert json.loads(json.dumps(d)) == d
    assert d["dispatch_s"] == 90.0 and isinstance(d["dispatch_s"], float)
    # int and float inputs give the same cache key
    assert SpeedModel(dispatch_s=90.0).to_dict() == d
    assert hash(model) == hash(SpeedModel(dispatch_s=90.0))
    assert model == SpeedModel(dispatch_s=90.0)
    assert model != SpeedModel()


def test_from_overrides_merges_and_accepts_numeric_strings() -> None:
    model = SpeedModel.from_overrides(
        {
            "highway_speeds_kph": {"primary": "90", "ferry_link": 10},
            "blue_light_factor": "1.2",
            "use_maxspeed": "false",
            "roll_out_s": 30,
        }
    )
    assert model.highway_speeds_kph["primary"] == 90.0
    assert model.highway_speeds_kph["ferry_link"] == 10.0
    assert model.highway_speeds_kph["motorway"] == 110.0  # default kept
    assert model.blue_light_factor == 1.2
    assert model.use_maxspeed is False
    assert model.turnout_s == 150.0
    assert SpeedModel.from_overrides(None) == SpeedModel()
    assert SpeedModel.from_overrides({}) == SpeedModel()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"highway_speeds_kph": {"primary": -80}},
            "speed model: highway_speeds_kph['primary'] = -80 km/h is not a positive speed",
        ),
        (
            {"highway_speeds_kph": {"primary": float("nan")}},
            "highway_speeds_kph['primary'] = nan km/h is not a finite number",
        ),
        ({"fallback_speed_kph": float("nan")}, "fallback_speed_kph = nan km/h is not a finite"),
        ({"ferry_speed_kph": float("inf")}, "ferry_speed_kph = inf km/h is not a finite"),
        ({"max_speed_kph": 500}, "max_speed_kph = 500 km/h is absurd (at most 300 km/h)"),
        ({"min_speed_kph": 0}, "min_speed_kph = 0 km/h is not a positive speed"),
        (
            {"min_speed_kph": 150},
            "min_speed_kph = 150 km/h must be below max_speed_kph = 140 km/h",
        ),
        ({"blue_light_factor": 0}, "blue_light_factor = 0 must be a number in (0, 3]"),
        ({"blue_light_factor": 3.5}, "blue_light_factor = 3.5 must be a number in (0, 3]"),
        ({"blue_light_factor": float("nan")}, "blue_light_factor = nan must be"),
        ({"dispatch_s": -5}, "dispatch_s = -5 s must be between 0 and 3600 s"),
        ({"roll_out_s": 4000}, "roll_out_s = 4000 s must be between 0 and 3600 s"),
        ({"roll_out_s": float("nan")}, "roll_out_s = nan s must be between"),
        ({"dispatch_s": "60"}, "dispatch_s = '60' is not a number"),
        ({"use_maxspeed": "yes"}, "use_maxspeed = 'yes' is not true or false"),
        ({"fallback_speed_kph": True}, "fallback_speed_kph = True is not a number"),
    ],
)
def test_speed_model_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        SpeedModel(**kwargs)  # type: ignore[arg-type]


def test_from_overrides_validates_too() -> None:
    with pytest.raises(
        ParameterError,
        match=re.escape("highway_speeds_kph['primary'] = -80 km/h is not a positive speed"),
    ):
        SpeedModel.from_overrides({"highway_speeds_kph": {"primary": "-80"}})
    with pytest.raises(ParameterError, match=re.escape("max_speed_kph = 500 km/h is absurd")):
        SpeedModel.from_overrides({"max_speed_kph": "500"})


def test_from_overrides_unknown_key_suggests() -> None:
    with pytest.raises(
        ParameterError,
        match=re.escape("unknown setting 'blue_light_factr'; did you mean 'blue_light_factor'?"),
    ):
        SpeedModel.from_overrides({"blue_light_factr": 1.2})
    with pytest.raises(ParameterError, match=r"unknown setting 'zzz' \(valid settings: "):
        SpeedModel.from_overrides({"zzz": 1})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ferry_speed_kph": "fast"}, "ferry_speed_kph = 'fast' is not a number"),
        ({"ferry_speed_kph": None}, "ferry_speed_kph = None is not a number"),
        (
            {"highway_speeds_kph": {"primary": "quick"}},
            "highway_speeds_kph['primary'] = 'quick' is not a number",
        ),
        ({"highway_speeds_kph": 80}, "highway_speeds_kph must be a mapping"),
        ({"use_maxspeed": "maybe"}, "use_maxspeed = 'maybe' is not true or false"),
    ],
)
def test_from_overrides_rejects_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        SpeedModel.from_overrides(overrides)


def test_speed_model_is_frozen() -> None:
    model = SpeedModel()
    with pytest.raises(AttributeError):
        model.blue_light_factor = 2.0  # type: ignore[misc]


# --------------------------------------------------------------------------
# describe_speed_model
# --------------------------------------------------------------------------


def test_describe_speed_model() -> None:
    table = describe_speed_model(SpeedModel())
    assert list(table.columns) == ["highway", "base_speed_kph", "emergency_speed_kph"]
    assert len(table) == len(constants.HIGHWAY_SPEEDS_KPH) + 2
    row = table.set_index("highway")
    assert row.loc["motorway", "emergency_speed_kph"] == pytest.approx(126.5)
    assert row.loc["primary", "base_speed_kph"] == 80.0
    assert row.loc["living_street", "emergency_speed_kph"] == pytest.approx(8.05)
    assert row.loc["(other classes)", "emergency_speed_kph"] == pytest.approx(46.0)
    assert row.loc["(ferry)", "emergency_speed_kph"] == 15.0
    assert not table.isna().to_numpy().any()
    assert math.isclose(row.loc["service", "emergency_speed_kph"], 23.0)
