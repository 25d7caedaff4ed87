"""The simulation on hand-made systems and on the real Andorra network.

Values are checked against hand calculations (a replayed call file), the
static response times of the travel-time engine (zero load), independent
computations from the call log, and by their error messages.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import ANDORRA_EXAMPLE
from scipy import stats

from planner.errors import DataError, InputFileError, ParameterError, PlannerWarning
from planner.inputs.demand import read_weighted_layer
from planner.inputs.sites import read_stations
from planner.network.bands import BandNetwork
from planner.network.dispersion import lognormal_sigma
from planner.network.profiles import SpeedProfile, TimeBand, default_speed_profile
from planner.network.road_network import RoadNetwork
from planner.network.snapping import snap_points
from planner.network.travel_times import (
    build_travel_time_graph,
    nearest_point_source,
    point_times,
    reverse_point_times,
)
from planner.optimise import MaxSurvival
from planner.simulate import (
    Duration,
    SimulationSettings,
    SimulationTimes,
    build_model,
    call_bands,
    compare_psychiatric,
    compare_systems,
    generate_calls,
    hospitals_from_osm,
    parse_priority,
    precompute_band_times,
    precompute_times,
    read_calls,
    read_hospitals,
    run_replications,
    settings_table,
    shift_table,
    simulate,
)

FIXED = "fixed"


def fixed(seconds: float) -> Duration:
    return Duration(seconds, 0.0, FIXED)


# --------------------------------------------------------------------------
# A hand-made system: 2 stations, 3 points, 1 hospital (times in s)
# --------------------------------------------------------------------------
HAND = SimulationTimes(
    station_to_point=np.array([[300.0, 600.0, 400.0], [900.0, 200.0, 500.0]]),
    hospital_to_point=np.array([[200.0, 800.0, 300.0]]),
    point_to_hospital=np.array([[250.0], [700.0], [350.0]]),
    point_to_station=np.array([[300.0, 900.0], [600.0, 200.0], [400.0, 500.0]]),
    hospital_to_station=np.array([[100.0, 700.0]]),
)
HAND_SETTINGS = SimulationSettings(
    call_handling=(fixed(60), fixed(120), fixed(180)),
    turnout=fixed(60),
    on_scene=(fixed(900), fixed(900), fixed(900)),
    psychiatric_on_scene=fixed(900),
    handover=fixed(600),
    return_time_factor=1.0,
    warmup_s=0.0,
    replications=1,
)


def hand_model(settings: SimulationSettings = HAND_SETTINGS, **kwargs: object):
    stations = pd.DataFrame({"name": ["A", "B"], "fleet": "ambulance", "units": [1, 1]})
    points = pd.DataFrame({"weight": [1.0, 1.0, 1.0]})
    return build_model(stations, points, ["H"], HAND, settings=settings, **kwargs)  # type: ignore[arg-type]


CALLS_CSV = """tid;lat;lon;prio;typ;on_scene_min;transporterad;sjukhus
2024-01-01 08:00:00;42,50;1,52;Prio 1;ambulans;10;ja;H
2024-01-01 08:05:00;42,51;1,53;prio 2;;20;nej;
2024-01-01 08:06:30;42,52;1,54;P1;psykiatri;5;nej;
"""


def test_replay_gives_the_hand_computed_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "larm.csv"
    path.write_text(CALLS_CSV, encoding="utf-8")
    calls = read_calls(path, check_sweden=False)
    assert calls.start == pd.Timestamp("2024-01-01 00:00")  # a Monday
    assert calls.table["priority"].tolist() == [1, 2, 1]
    assert calls.table["psychiatric"].tolist() == [False, False, True]
    log = simulate(hand_model(), calls, HAND_SETTINGS).log.set_index("call")
    h = 8 * 3600.0
    # call 1 (prio 1, point 0): handled 60 s, station A (300 s) after 60 s turn-out,
    # 10 min on scene, 250 s to H, 600 s handover; then sent on from H (see call 3)
    one = log.loc[0]
    assert one[["t_call", "t_ready", "t_dispatch", "t_arrive"]].tolist() == [
        h,
        h + 60,
        h + 60,
        h + 60 + 60 + 300,
    ]
    assert one["t_leave_scene"] == h + 420 + 600
    assert one["t_hospital"] == h + 1020 + 250
    assert one["t_clear"] == h + 1270 + 600
    assert np.isnan(one["t_home"])  # sent again from the hospital before it got home
    assert one["station"] == "A" and one["hospital"] == "H"
    # call 2 (prio 2, point 1): handled 120 s; A is busy, B drives 200 s; no transport
    two = log.loc[1]
    assert two[["t_ready", "t_dispatch", "t_arrive", "t_clear", "t_home"]].tolist() == [
        h + 420,
        h + 420,
        h + 420 + 60 + 200,
        h + 680 + 1200,
        h + 1880 + 200,
    ]
    assert two["station"] == "B" and not two["transported"]
    # call 3 (prio 1, point 2) at 08:06:30, ready 60 s later: both units busy, it waits
    # until A clears at H (h + 1870) and drives H -> point 2 (300 s), no turn-out
    three = log.loc[2]
    assert three["t_ready"] == h + 390 + 60
    assert three["t_dispatch"] == h + 1870 and three["origin"] == "hospital"
    assert three["t_arrive"] == h + 1870 + 300
    assert three["wait_s"] == 1870 - 450 and three["waited"]
    assert three["response_s"] == h + 2170 - (h + 390)
    assert three["t_clear"] == h + 2170 + 300
    assert three["t_home"] == h + 2470 + 400  # point 2 -> A
    assert log["status"].tolist() == ["served"] * 3


def test_replay_errors_name_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "time,lat,lon,priority,transported,on_scene_min\n"
        "2024-01-01 08:00,42.5,1.52,prio 4,yes,10\n"
        "2024-01-01 08:10,42.5,1.52,,maybe,10\n"
        "2024-01-01 08:20,42.5,1.52,2,no,-3\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError) as err:
        read_calls(path, check_sweden=False)
    text = str(err.value)
    assert f"{path} row 2: priority 'prio 4' is not a priority" in text
    assert f"{path} row 3: priority is missing" in text
    assert f"{path} row 3: transported 'maybe' is not yes or no" in text
    assert f"{path} row 4: on_scene_min '-3' is not a time >= 0" in text
    # rows as Excel numbers them: the first call is on the file's second line
    assert path.read_text(encoding="utf-8").splitlines()[1].endswith("prio 4,yes,10")
    with pytest.raises(InputFileError, match=r"bad\.csv \(--calls\) row 2: priority 'prio 4'"):
        read_calls(path, check_sweden=False, source=f"{path} (--calls)")
    path.write_text("time,lat,lon,priority\n2024-13-01 08:00,42.5,1.52,1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="row 2: time '2024-13-01 08:00'"):
        read_calls(path, check_sweden=False)
    path.write_text("time,lat,lon,priority\n2024-01-01 08:00,,1.52,1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="row 2"):
        read_calls(path, check_sweden=False)
    path.write_text(
        "time,lat,lon,priority,hospital\n2024-01-01 08:00,42.5,1.52,1,Karolinska\n",
        encoding="utf-8",
    )
    calls = read_calls(path, check_sweden=False)
    model = build_model(
        pd.DataFrame({"name": ["A"], "fleet": "ambulance", "units": [1]}),
        pd.DataFrame({"weight": [1.0]}),
        ["H"],
        SimulationTimes(
            np.array([[300.0]]),
            np.array([[200.0]]),
            np.array([[250.0]]),
            np.array([[300.0]]),
            np.array([[100.0]]),
        ),
        settings=HAND_SETTINGS,
    )
    with pytest.raises(InputFileError, match="row 2: hospital 'Karolinska' is not one of"):
        simulate(model, calls, HAND_SETTINGS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("prio 1", 1),
        ("Prio 2", 2),
        ("PRIO3", 3),
        ("P1", 1),
        ("prioritet 2", 2),
        (3, 3),
        (2.0, 2),
        ("4", None),
        ("prio", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_priorities_in_swedish_spellings(text: object, expected: int | None) -> None:
    assert parse_priority(text) == expected


# --------------------------------------------------------------------------
# Shifts, fleets and regions
# --------------------------------------------------------------------------
def no_hospital_times(station_to_point: list[list[float]]) -> SimulationTimes:
    """Hand-made drive times (s) without hospitals; the way back takes as long."""
    forward = np.array(station_to_point)
    n_st, n_pt = forward.shape
    return SimulationTimes(
        station_to_point=forward,
        hospital_to_point=np.zeros((0, n_pt)),
        point_to_hospital=np.zeros((n_pt, 0)),
        point_to_station=forward.T.copy(),
        hospital_to_station=np.zeros((0, n_st)),
    )


def test_impossible_shifts_are_refused() -> None:
    stations = pd.DataFrame(
        {"name": ["Visby", "PAM"], "fleet": ["ambulance", "psychiatric"], "units": [2, 1]}
    )
    with pytest.raises(ParameterError, match=r"shifts\['Visby'\]: hour 3 has 3 units on duty"):
        shift_table(stations, {"Visby": [2, 2, 2, 3] + [2] * 20}, psychiatric_hours=None)
    with pytest.raises(ParameterError, match="give 24 values"):
        shift_table(stations, {"Visby": [1] * 10}, psychiatric_hours=None)
    with pytest.raises(ParameterError, match="hour 0 has -1"):
        shift_table(stations, {"Visby": [-1] * 24}, psychiatric_hours=None)
    with pytest.raises(ParameterError, match="'Visbi' is not a station; did you mean 'Visby'"):
        shift_table(stations, {"Visbi": [1] * 24}, psychiatric_hours=None)
    table = shift_table(stations, {"Visby": [1] * 8 + [2] * 16}, psychiatric_hours=(14, 2))
    assert table.shape == (2, 168)
    assert table[0, :24].tolist() == [1] * 8 + [2] * 16
    pam_day = table[1, 24:48].tolist()  # Tuesday
    assert pam_day == [1, 1] + [0] * 12 + [1] * 10


def test_psychiatric_unit_works_its_hours_and_takes_psychiatric_calls() -> None:
    times = no_hospital_times([[300.0, 400.0], [600.0, 100.0]])
    settings = SimulationSettings(
        calls_per_year=20_000,
        days=28,
        psychiatric_share=0.3,
        transport_probability=(0.0, 0.0, 0.0),
        psychiatric_transport_probability=0.0,
        replications=1,
    )
    stations = pd.DataFrame(
        {"name": ["Amb", "PAM"], "fleet": ["ambulance", "psychiatric"], "units": [3, 1]}
    )
    model = build_model(
        stations, pd.DataFrame({"weight": [1.0, 1.0]}), [], times, settings=settings
    )
    log = simulate(model, generate_calls(model, settings, seed=3), settings).log
    pam = log.loc[log["fleet"] == "psychiatric"]
    hour = (pam["t_dispatch"] // 3600 % 24).astype(int)
    assert len(pam) > 50
    assert set(hour) <= set(range(14, 24)) | {0, 1}
    assert pam["psychiatric"].all()
    # in its hours a free PAM takes every psychiatric call, even where an ambulance is
    # nearer: a psychiatric call got an ambulance only while the PAM was busy
    day_hour = log["t_dispatch"] // 3600 % 24
    in_hours = (day_hour >= 14) | (day_hour < 2)
    by_ambulance = log.loc[log["psychiatric"] & in_hours & (log["fleet"] == "ambulance")]
    assert len(by_ambulance) > 10
    for t in by_ambulance["t_dispatch"]:
        assert ((pam["t_dispatch"] <= t) & (t < pam["t_clear"])).any()
    # waiting for the PAM: low-priority psychiatric calls in its hours never get an ambulance
    waiting = settings.replace(psychiatric_wait_priorities=(2, 3))
    log = simulate(model, generate_calls(model, waiting, seed=3), waiting).log
    hours = (log["t_ready"] // 3600 % 24).astype(int)
    low = log["psychiatric"] & (log["priority"] > 1) & ((hours >= 14) | (hours < 2))
    assert (log.loc[low, "fleet"] == "psychiatric").mean() > 0.9
    assert log.loc[low, "waited"].any()
    # ... unless they were still waiting when the PAM went off duty at 02:00
    late = log.loc[low & (log["fleet"] == "ambulance"), "t_dispatch"] // 3600 % 24
    assert late.between(2, 13).all()


def test_without_mutual_aid_units_stay_in_their_region() -> None:
    times = no_hospital_times([[100.0, 200.0], [200.0, 100.0]])
    stations = pd.DataFrame(
        {"name": ["A", "B"], "fleet": "ambulance", "units": [1, 1], "region_code": ["01", "03"]}
    )
    points = pd.DataFrame({"weight": [1.0, 1.0], "region_code": ["01", "03"]})
    base = SimulationSettings(
        calls_per_year=30_000,
        days=20,
        transport_probability=(0.0, 0.0, 0.0),
        psychiatric_transport_probability=0.0,
        on_scene=(Duration(1800, 0.5),) * 3,
        replications=1,
    )
    for mutual, crossing in ((True, True), (False, False)):
        settings = base.replace(mutual_aid=mutual)
        model = build_model(stations, points, [], times, settings=settings)
        log = simulate(model, generate_calls(model, settings, seed=1), settings).log
        served = log.loc[log["status"] == "served"]
        assert (served["from_other_region"] > 0).any() == crossing
    with pytest.raises(ParameterError, match="mutual_aid = false needs the region"):
        build_model(
            stations.drop(columns="region_code"),
            points,
            [],
            times,
            settings=base.replace(mutual_aid=False),
        )


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------
def test_load_above_capacity_says_the_queue_grows_without_bound() -> None:
    settings = HAND_SETTINGS.replace(calls_per_year=200_000, days=10)
    model = hand_model(settings)
    calls = generate_calls(model, settings, seed=0)
    with pytest.raises(DataError, match="the queue would grow without bound"):
        simulate(model, calls, settings)
    # below the estimate but still swamped: the queue limit stops the run
    busy = settings.replace(calls_per_year=29_000, days=30, max_queue=30)
    with pytest.raises(DataError, match="the queue grows without bound"):
        simulate(model, generate_calls(model, busy, seed=0), busy)


def test_more_units_never_lengthen_the_median_under_common_random_numbers() -> None:
    settings = HAND_SETTINGS.replace(
        calls_per_year=9000,
        days=60,
        replications=8,
        warmup_s=86400.0,
        on_scene=(Duration(1500, 0.5),) * 3,
        handover=Duration(900, 0.5),
    )
    before = hand_model(settings)
    stations = pd.DataFrame({"name": ["A", "B"], "fleet": "ambulance", "units": [2, 1]})
    after = build_model(
        stations, pd.DataFrame({"weight": [1.0] * 3}), ["H"], HAND, settings=settings
    )
    run_b, run_a, diff = compare_systems(before, after, settings)
    row = diff.set_index("figure")
    # the same calls in both: identical call times, paired replication by replication
    assert run_b.logs[0]["t_call"].equals(run_a.logs[0]["t_call"])
    assert row.loc["prio1_median_min", "difference_ci_low"] <= 0
    assert row.loc["mean_wait_min", "difference_ci_high"] < 0  # a real, detected improvement
    assert row.loc["share_waited", "difference"] < 0


# --------------------------------------------------------------------------
# Calls and settings
# --------------------------------------------------------------------------
def test_generated_calls_follow_volume_profile_and_shares() -> None:
    settings = SimulationSettings(calls_per_1000=100, days=364)
    weights = np.array([3.0, 1.0, 0.0, 6.0]) * 10_000  # 100,000 people
    calls = generate_calls(weights, settings, seed=5)
    again = generate_calls(weights, settings, seed=5)
    assert calls.table.equals(again.table)
    n = len(calls)
    expected = 100 * 100 * 364 / 365
    assert abs(n - expected) < 4 * np.sqrt(expected)
    share = np.bincount(calls.table["point"], minlength=4) / n
    assert share == pytest.approx([0.3, 0.1, 0.0, 0.6], abs=0.01)
    prio = np.bincount(calls.table["priority"], minlength=4)[1:] / n
    assert prio == pytest.approx(settings.priority_shares, abs=0.01)
    assert calls.table["psychiatric"].mean() == pytest.approx(settings.psychiatric_share, abs=0.005)
    hour = (calls.table["time_s"] // 3600 % 24).astype(int)
    by_hour = np.bincount(hour, minlength=24) / n
    profile = np.asarray(settings.hour_of_week[:24]) / np.sum(settings.hour_of_week[:24])
    assert by_hour == pytest.approx(profile, abs=0.004)
    assert by_hour[4] < 0.5 * by_hour[11]  # the night trough is there


def test_settings_are_checked_and_documented() -> None:
    with pytest.raises(ParameterError, match="priority_shares"):
        SimulationSettings(priority_shares=(0.5, 0.5, 0.5))
    with pytest.raises(ParameterError, match="psychiatric_hours"):
        SimulationSettings(psychiatric_hours=(14, 14))
    with pytest.raises(ParameterError, match="hour_of_week: give 168"):
        SimulationSettings(hour_of_week=(1.0,) * 24)
    with pytest.raises(ParameterError, match="psychiatric_wait_priorities"):
        SimulationSettings(psychiatric_wait_priorities=(4,))
    table = settings_table(SimulationSettings())
    assert table["setting"].tolist() == [f for f in SimulationSettings.__dataclass_fields__]
    assert table["source"].str.len().min() > 0
    on_scene = table.set_index("setting").loc["on_scene", "value"]
    assert on_scene.startswith("prio 1: 20 min, lognormal cv 0.5")


def test_lognormal_durations_have_the_asked_mean_and_spread() -> None:
    rng = np.random.default_rng(0)
    draws = Duration(1200.0, 0.5).sample(rng, 200_000)
    assert draws.mean() == pytest.approx(1200, rel=0.01)
    assert draws.std() / draws.mean() == pytest.approx(0.5, rel=0.02)
    assert Duration(30.0, 0.0, FIXED).sample(rng, 3).tolist() == [30.0, 30.0, 30.0]


# --------------------------------------------------------------------------
# The real Andorra network
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def andorra_system(andorra_net: RoadNetwork, andorra_pbf: Path):
    stations = read_stations(ANDORRA_EXAMPLE / "stations.csv", check_sweden=False)
    demand = read_weighted_layer(ANDORRA_EXAMPLE / "demand.csv", check_sweden=False)
    hospitals = hospitals_from_osm(andorra_pbf, emergency_only=False)
    times = precompute_times(andorra_net.graph, stations, hospitals, demand)
    return stations, demand, hospitals, times


def andorra_model(*args: object, **kwargs: object):
    """``build_model`` on Andorra, whose cut-off road parts give its two warnings."""
    with pytest.warns(PlannerWarning) as caught:
        model = build_model(*args, **kwargs)  # type: ignore[arg-type]
    texts = [str(w.message) for w in caught]
    assert len(texts) == 2, texts
    assert "demand points reach no hospital by road" in texts[0]
    assert "points can be reached by no ambulance that could also get home" in texts[1]
    assert model.warnings == tuple(texts)
    return model


def test_points_that_cannot_be_served_are_warned_about(andorra_system) -> None:
    """The warnings count what the drive times say: no hospital, no ambulance that gets home."""
    stations, demand, hospitals, times = andorra_system
    settings = SimulationSettings()
    model = andorra_model(stations, demand, hospitals, times, settings=settings)
    no_hospital = ~np.isfinite(times.point_to_hospital).any(axis=1) & (demand["weight"] > 0)
    reach = np.isfinite(times.station_to_point) & np.isfinite(times.point_to_station.T)
    nearest = np.argmin(np.where(np.isfinite(times.point_to_hospital), times.point_to_hospital,
                                 np.inf), axis=1)  # fmt: skip
    has = np.isfinite(times.point_to_hospital).any(axis=1)
    via = np.isfinite(times.hospital_to_station[nearest].T) | ~has[None, :]
    unserved = ~(reach & via).any(axis=0)
    assert no_hospital.sum() > 0 and unserved.sum() > 0
    texts = model.warnings
    assert texts[0].startswith(f"{int(no_hospital.sum())} demand points reach no hospital")
    assert texts[1].startswith(f"{int(unserved.sum())} of {len(demand)} points can be reached")
    assert (~model.points["servable"]).sum() == unserved.sum()


def test_andorra_hospitals_from_osm(andorra_pbf: Path, tmp_path: Path) -> None:
    # none of Andorra's 7 hospitals carries emergency=yes
    assert len(hospitals_from_osm(andorra_pbf)) == 0
    every = hospitals_from_osm(andorra_pbf, emergency_only=False)
    assert len(every) == 7 and every.crs.to_epsg() == 32631  # Andorra: its UTM zone
    osm = tmp_path / "h.osm"
    osm.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
        "<node id='1' lat='59.34' lon='18.03' version='1'><tag k='amenity' v='hospital'/>"
        "<tag k='emergency' v='yes'/><tag k='name' v='Akuten'/></node>\n"
        "<node id='2' lat='59.35' lon='18.05' version='1'><tag k='amenity' v='hospital'/>"
        "<tag k='emergency' v='no'/></node>\n"
        "<node id='3' lat='59.36' lon='18.06' version='1'><tag k='emergency' v='yes'/></node>\n"
        "</osm>\n",
        encoding="utf-8",
    )
    found = hospitals_from_osm(osm)
    assert found["name"].tolist() == ["Akuten"] and found["osm_id"].tolist() == [1]
    csv = tmp_path / "h.csv"
    csv.write_text("name,lon,lat\nAkuten,18.03,59.34\nAkuten,18.05,59.35\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="hospital 'Akuten' appears in rows 2, 3"):
        read_hospitals(csv)


def test_reverse_times_equal_forward_times_from_the_points(
    andorra_net: RoadNetwork, andorra_system
) -> None:
    stations, demand, hospitals, times = andorra_system
    graph = andorra_net.graph
    ttg = build_travel_time_graph(graph)
    sites = snap_points(graph, pd.concat([stations.geometry, hospitals.geometry]))
    pts = snap_points(graph, demand.geometry.iloc[:60])
    forward = point_times(ttg, pts, destinations=sites)  # one search per demand point
    reverse = reverse_point_times(ttg, sites, pts)  # one per site, on the reversed graph
    assert np.array_equal(np.isfinite(forward), np.isfinite(reverse))
    assert np.allclose(forward[np.isfinite(forward)], reverse[np.isfinite(reverse)], atol=1e-6)
    n = len(stations)
    assert np.allclose(times.point_to_station[:60], forward[:, :n], atol=1e-6)
    assert np.allclose(times.point_to_hospital[:60], forward[:, n:], atol=1e-6)


def test_zero_load_response_equals_the_static_response_time(
    andorra_net: RoadNetwork, andorra_system
) -> None:
    stations, demand, hospitals, times = andorra_system
    settings = SimulationSettings(
        calls_per_year=100,
        days=730,
        warmup_s=0.0,
        call_handling=(fixed(120),) * 3,
        turnout=fixed(60),
        on_scene=(fixed(300),) * 3,
        psychiatric_on_scene=fixed(300),
        handover=fixed(300),
        replications=1,
    )
    model = andorra_model(stations, demand, hospitals, times, settings=settings)
    log = simulate(model, generate_calls(model, settings, seed=2), settings).log
    served = log.loc[log["status"] == "served"]
    # rare calls: keep those dispatched when every earlier job was over (nearly all)
    jobs = served.sort_values("t_dispatch")
    busy_until = np.maximum.accumulate(jobs["t_home"].to_numpy())
    alone = np.append(True, jobs["t_dispatch"].to_numpy()[1:] > busy_until[:-1])
    assert len(jobs) > 150 and alone.mean() > 0.95
    served = jobs.loc[alone]
    assert (served["origin"] == "station").all() and not served["waited"].any()
    # the static response time, from the engine's nearest-station search
    graph = andorra_net.graph
    drive, _ = nearest_point_source(
        build_travel_time_graph(graph),
        snap_points(graph, stations),
        destinations=snap_points(graph, demand),
    )
    static = 120 + 60 + drive[served["point"].to_numpy()]
    bad = ~np.isclose(served["response_s"].to_numpy(), static, rtol=0, atol=1e-6)
    assert not bad.any(), (served.loc[bad, ["point", "response_s", "station"]], static[bad])


def test_andorra_year_with_replications_and_survival(andorra_system) -> None:
    stations, demand, hospitals, times = andorra_system
    settings = SimulationSettings(calls_per_1000=110, days=120, replications=4, seed=11)
    pam = pd.concat(
        [stations, stations.iloc[[0]].assign(name="PAM Andorra", fleet="psychiatric")],
        ignore_index=True,
    )
    pam_times = precompute_times_from(times, [0, 1, 0])
    model = andorra_model(pam, demand, hospitals, pam_times, settings=settings, population=80_000)
    run = run_replications(model, settings)
    summary = run.tables["summary"].iloc[0]
    assert summary["replications"] == 4
    assert summary["prio1_median_min_ci_low"] <= summary["prio1_median_min"]
    assert summary["prio1_median_min"] <= summary["prio1_median_min_ci_high"]
    # expected survivors, recomputed from the first replication's log
    log = run.logs[0]
    counted = log.loc[log["counted"] & (log["priority"] == 1) & ~log["psychiatric"]]
    minutes = np.where(counted["status"] == "served", counted["response_s"] / 60, np.inf)
    survivors = 55 / 100_000 * 80_000 * MaxSurvival().survival(minutes).mean()
    first = run.per_replication[0]["summary"].iloc[0]
    assert first["expected_survivors_per_year"] == pytest.approx(survivors, rel=1e-12)
    # the municipality table is the Swedish KPI table, with intervals
    muni = run.tables["municipality"]
    assert {"median_min", "p90_min", "share_within_20_min", "median_min_ci_low"} <= set(muni)
    # with and without the PAM, on the same calls
    with_pam, without, diff = compare_psychiatric(model, settings.replace(replications=3))
    row = diff.set_index("figure")
    assert without.tables["summary"].iloc[0]["psychiatric_by_pam"] == 0
    assert row.loc["psychiatric_by_pam", "after"] > 0.3
    assert with_pam.logs[0]["t_call"].equals(without.logs[0]["t_call"])


def precompute_times_from(times: SimulationTimes, rows: list[int]) -> SimulationTimes:
    """The times of stations ``rows`` of ``times`` (a new station at an old one's place)."""
    return SimulationTimes(
        station_to_point=times.station_to_point[rows],
        hospital_to_point=times.hospital_to_point,
        point_to_hospital=times.point_to_hospital,
        point_to_station=times.point_to_station[:, rows],
        hospital_to_station=times.hospital_to_station[:, rows],
    )


def test_replications_on_a_dask_cluster_equal_in_process(cluster, andorra_system) -> None:
    stations, demand, hospitals, times = andorra_system
    settings = SimulationSettings(calls_per_1000=110, days=30, replications=3, seed=4)
    model = andorra_model(stations, demand, hospitals, times, settings=settings)
    here = run_replications(model, settings)
    there = run_replications(model, settings, executor=cluster)
    for name, table in here.tables.items():
        pd.testing.assert_frame_equal(table, there.tables[name])
    assert here.logs[0].equals(there.logs[0])


def test_no_hospital_while_calls_are_transported(andorra_system) -> None:
    stations, demand, _, times = andorra_system
    empty = SimulationTimes(
        times.station_to_point,
        np.zeros((0, len(demand))),
        np.zeros((len(demand), 0)),
        times.point_to_station,
        np.zeros((0, len(stations))),
    )
    with pytest.raises(DataError, match="no hospital with an emergency department"):
        build_model(stations, demand, [], empty, settings=SimulationSettings())
    unreachable = SimulationTimes(
        times.station_to_point,
        np.full((1, len(demand)), np.inf),
        np.full((len(demand), 1), np.inf),
        times.point_to_station,
        np.full((1, len(stations)), np.inf),
    )
    with pytest.raises(DataError, match="no hospital can be reached by road"):
        build_model(stations, demand, ["H"], unreachable, settings=SimulationSettings())
    assert isinstance(demand, gpd.GeoDataFrame)


@pytest.mark.parametrize(
    ("transported", "ready_after_clear", "drive"),
    [
        # from the hospital, 40 % of the 1,000 s home: 0.6 * T(H -> p1) + 0.4 * T(A -> p1)
        ("ja", 400.0, 0.6 * 800 + 0.4 * 600),
        # from the scene, half of the 300 s home: T(p0 -> p1) via the best hub (A: 300 + 600,
        # H: 250 + 800) is 900; 0.5 * 900 + 0.5 * 600
        ("nej", 150.0, 0.5 * 900 + 0.5 * 600),
    ],
)
def test_a_unit_on_its_way_home_is_sent_from_where_it_is(
    tmp_path: Path, transported: str, ready_after_clear: float, drive: float
) -> None:
    times = SimulationTimes(
        station_to_point=np.array([[300.0, 600.0]]),
        hospital_to_point=np.array([[200.0, 800.0]]),
        point_to_hospital=np.array([[250.0], [700.0]]),
        point_to_station=np.array([[300.0], [600.0]]),
        hospital_to_station=np.array([[1000.0]]),
    )
    model = build_model(
        pd.DataFrame({"name": ["A"], "fleet": "ambulance", "units": [1]}),
        pd.DataFrame({"weight": [1.0, 1.0]}),
        ["H"],
        times,
        settings=HAND_SETTINGS,
    )
    h = 8 * 3600.0
    clear = h + 60 + 60 + 300 + 600 + (250 + 600 if transported == "ja" else 0)
    second = clear + ready_after_clear - 60  # prio 1: handled in 60 s
    stamp = (pd.Timestamp("2024-01-01") + pd.Timedelta(seconds=second)).isoformat(sep=" ")
    path = tmp_path / "two.csv"
    path.write_text(
        "tid;lat;lon;prio;on_scene_min;transporterad\n"
        f"2024-01-01 08:00:00;42,50;1,52;1;10;{transported}\n"
        f"{stamp};42,51;1,53;1;10;nej\n",
        encoding="utf-8",
    )
    log = simulate(model, read_calls(path, check_sweden=False), HAND_SETTINGS).log
    assert log.loc[0, "t_clear"] == pytest.approx(clear, abs=1e-6)
    assert np.isnan(log.loc[0, "t_home"])  # it never got home
    assert log.loc[1, "t_dispatch"] == pytest.approx(clear + ready_after_clear, abs=1e-6)
    assert log.loc[1, "origin"] == ("hospital" if transported == "ja" else "scene")
    assert log.loc[1, "t_arrive"] - log.loc[1, "t_dispatch"] == pytest.approx(drive, abs=1e-6)


def test_drive_times_are_lognormal_as_the_coverage_dispersion() -> None:
    """drive_time_cv: the network time is the median, spread as dispersion.draw_drive_times.

    KS test of the drive legs (to the scene from a station, and to hospital)
    divided by their network times against scipy.stats.lognorm(s=sigma, scale=1).
    """
    settings = HAND_SETTINGS.replace(calls_per_year=2000, days=200, drive_time_cv=0.3)
    model = hand_model(settings)
    log = simulate(model, generate_calls(model, settings, seed=8), settings).log
    sigma = np.sqrt(np.log1p(0.3**2))
    assert sigma == pytest.approx(lognormal_sigma(0.3))
    at_station = log.loc[log["origin"] == "station"]
    station = (at_station["station"] == "B").to_numpy().astype(int)
    network = HAND.station_to_point[station, at_station["point"].to_numpy()]
    factor = (at_station["t_arrive"] - at_station["t_dispatch"] - 60).to_numpy() / network
    assert len(factor) > 1000
    assert stats.kstest(factor, stats.lognorm(s=sigma, scale=1.0).cdf).pvalue > 0.01
    assert np.median(factor) == pytest.approx(1.0, abs=0.03)  # the median, not the mean
    assert factor.mean() == pytest.approx(np.exp(sigma**2 / 2), abs=0.02)
    # a normal with the same mean and spread is refused (the test can fail)
    assert stats.kstest(factor, stats.norm(1.0, 0.3).cdf).pvalue < 0.01
    went = log.loc[log["transported"].astype(bool)]
    leg = (went["t_hospital"] - went["t_leave_scene"]).to_numpy()
    to_h = HAND.point_to_hospital[went["point"].to_numpy(), 0]
    assert len(leg) > 500
    assert stats.kstest(leg / to_h, stats.lognorm(s=sigma, scale=1.0).cdf).pvalue > 0.01


def test_no_drive_time_cv_keeps_the_network_times() -> None:
    base = HAND_SETTINGS.replace(calls_per_year=500, days=30)
    model = hand_model(base)
    calls = generate_calls(model, base, seed=3)
    none = simulate(model, calls, base).log
    zero = simulate(model, calls, base.replace(drive_time_cv=0.0)).log
    pd.testing.assert_frame_equal(none, zero, check_exact=True)
    with pytest.raises(ParameterError, match=r"drive_time_cv = -0\.1: the coefficient"):
        base.replace(drive_time_cv=-0.1)


# --------------------------------------------------------------------------
# Time bands: each call drives at the speeds of its call time's band
# --------------------------------------------------------------------------
def _night_profile(night: float) -> SpeedProfile:
    return SpeedProfile(
        "test",
        (
            TimeBand("night", "all", 22 * 60, 6 * 60, night),
            TimeBand("rest", "all", 6 * 60, 22 * 60, 1.0),
        ),
    )


def test_call_bands_follow_the_simulation_clock() -> None:
    """Time 0 is a Monday 00:00: Monday 23:00 and Saturday 03:00 are night, Tuesday noon not."""
    profile = default_speed_profile()
    hours = np.array([23.0, 24 + 12, 5 * 24 + 3, 5 * 24 + 12, 7 * 24 + 7.5])
    names = np.array(profile.band_names)[call_bands(profile, hours * 3600)]
    assert names.tolist() == ["night", "day", "night", "weekend_day", "morning_peak"]
    assert call_bands(None, hours).tolist() == [0] * 5


def test_a_profile_of_ones_simulates_bit_for_bit_as_none(
    andorra_net: RoadNetwork, andorra_system
) -> None:
    """Every factor 1, band times recomputed on the re-weighted graph: the same log."""
    stations, demand, hospitals, times = andorra_system
    profile = _night_profile(1.0)
    bands = BandNetwork.prepare(andorra_net, profile)
    band_times = precompute_band_times(bands, stations, hospitals, demand)  # no base: computed
    assert all(t is not times for t in band_times)
    settings = SimulationSettings(calls_per_year=3000, days=20, replications=1, seed=4)
    plain = andorra_model(stations, demand, hospitals, times, settings=settings)
    banded = andorra_model(
        stations, demand, hospitals, times, settings=settings,
        profile=profile, band_times=band_times,
    )  # fmt: skip
    calls = generate_calls(plain, settings, seed=5)
    one = simulate(plain, calls, settings).log
    two = simulate(banded, calls, settings).log
    assert (one["status"] == "served").sum() > 100
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_night_calls_drive_at_the_night_factor(
    tmp_path: Path, andorra_net: RoadNetwork, andorra_system
) -> None:
    """Night factor 0.5, calls only at night, zero load: every road edge takes twice as long.

    Checked against the engine's nearest-station times on a copy of the
    network whose edge times are doubled by hand (the speed clamp applied).
    """
    stations, demand, hospitals, _ = andorra_system
    pts = demand.to_crs(4326).geometry.iloc[::7].iloc[:40]
    rows = [
        f"{pd.Timestamp('2024-01-01 02:00') + pd.Timedelta(days=i):%Y-%m-%d %H:%M};"
        f"{p.y:.6f};{p.x:.6f};1;10;nej"
        for i, p in enumerate(pts)
    ]
    path = tmp_path / "night.csv"
    path.write_text("tid;lat;lon;prio;on_scene_min;transporterad\n" + "\n".join(rows) + "\n")
    calls = read_calls(path, check_sweden=False)
    points = calls.points
    profile = _night_profile(0.5)
    bands = BandNetwork.prepare(andorra_net, profile)
    base = precompute_times(andorra_net.graph, stations, hospitals, points)
    band_times = precompute_band_times(bands, stations, hospitals, points, base=base)
    assert band_times[1] is base  # the unit band shares the network's own times
    settings = SimulationSettings(
        warmup_s=0.0, call_handling=(fixed(120),) * 3, turnout=fixed(60),
        on_scene=(fixed(300),) * 3, psychiatric_on_scene=fixed(300), handover=fixed(300),
        replications=1,
    )  # fmt: skip
    weights = points.assign(weight=1.0)
    with warnings.catch_warnings():  # Andorra's cut-off road parts (tested above)
        warnings.simplefilter("ignore", PlannerWarning)
        plain = build_model(stations, weights, hospitals, base, settings=settings)
        model = build_model(stations, weights, hospitals, base, settings=settings,
                            profile=profile, band_times=band_times)  # fmt: skip
    static = simulate(plain, calls, settings).log
    log = simulate(model, calls, settings).log
    served = (log["status"] == "served").to_numpy()
    assert served.sum() > 30 and (log.loc[served, "origin"] == "station").all()
    drive = (log["t_arrive"] - log["t_dispatch"] - 60).to_numpy()[served]
    # by hand: every edge's time doubled unless the 0.5 factor hits the speed model's clamp
    model_speeds = andorra_net.settings.speed_model
    slow = andorra_net.graph.copy()
    for _, _, d in slow.edges(data=True):
        v = d.get("speed_kph", np.nan)
        if d["travel_time"] > 0 and np.isfinite(v) and d.get("route") != "ferry":
            clamped = min(max(v * 0.5, model_speeds.min_speed_kph), model_speeds.max_speed_kph)
            d["travel_time"] = d["travel_time"] * v / clamped
    expected, _ = nearest_point_source(
        build_travel_time_graph(slow), snap_points(slow, stations),
        destinations=snap_points(slow, points),
    )  # fmt: skip
    point = log["point"].to_numpy()[served]
    np.testing.assert_allclose(drive, expected[point], rtol=0, atol=1e-6)
    before = (static["t_arrive"] - static["t_dispatch"] - 60).to_numpy()[served]
    ratio = drive / before
    assert (ratio <= 2 + 1e-9).all() and np.median(ratio) > 1.9  # the access legs keep 15 km/h
