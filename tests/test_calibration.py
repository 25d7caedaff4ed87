"""planner calibrate: trips routed on the real Andorra network; known factors recovered.

The routed time per road class is checked against networkx (a shortest path
through the same virtual origin and destination links), the routed total
against the engine's point-to-point drive times, and the fit against trips
generated from known factors with seeded lognormal noise and outliers.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from planner import constants
from planner.analysis import calibration as cal
from planner.errors import DataError, InputFileError, ParameterError
from planner.network.profiles import bands_at, read_speed_profile, write_speed_profile
from planner.network.road_network import RoadNetwork
from planner.network.snapping import snap_points
from planner.network.travel_times import build_travel_time_graph, point_times
from planner.outputs.export import read_csv_table
from planner.run.cli import main

#: Known speed factors per class (primary changes with the time of day).
TRUE = {"primary": 0.8, "secondary": 1.1, "minor": 0.7}
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "andorra"
PRIMARY_BY_BAND = {
    "night": 0.95,
    "morning_peak": 0.7,
    "day": 0.8,
    "afternoon_peak": 0.72,
    "evening": 0.85,
}


def _trip_points(net: RoadNetwork, n: int, seed: int) -> pd.DataFrame:
    """n trips between random road nodes, moved a few metres off the road (EPSG:4326)."""
    g = net.graph
    rng = np.random.default_rng(seed)
    nodes = np.array(list(g.nodes))
    x = np.array([g.nodes[k]["x"] for k in nodes])
    y = np.array([g.nodes[k]["y"] for k in nodes])
    a, b = rng.choice(len(nodes), n), rng.choice(len(nodes), n)
    crs = g.graph["crs"]

    def points(i: np.ndarray) -> np.ndarray:
        jitter = rng.normal(0, 8, (2, n))
        xy = gpd.points_from_xy(x[i] + jitter[0], y[i] + jitter[1])
        return gpd.GeoSeries(xy, crs=crs).to_crs(constants.WGS84).to_numpy()

    start = pd.Timestamp("2024-03-04") + pd.to_timedelta(rng.integers(0, 28 * 24 * 60, n), "min")
    return pd.DataFrame(
        {
            "row": np.arange(n) + 2,
            "origin": points(a),
            "destination": points(b),
            "start_time": start,
            "lights_sirens": True,
        }
    )


def _true_times(trips: pd.DataFrame, routed: cal.RoutedTrips, *, by_band: bool) -> np.ndarray:
    """Drive times under the known factors, s."""
    names = cal.road_class_names()
    factor = np.ones((len(trips), len(names)))
    for cls, f in TRUE.items():
        factor[:, names.index(cls)] = f
    if by_band:
        factor[:, names.index("primary")] = [PRIMARY_BY_BAND[h] for h in trip_hour_band(trips)]
    return routed.fixed_s + (routed.class_s / factor).sum(axis=1)


def _observe(
    trips: pd.DataFrame, routed: cal.RoutedTrips, *, by_band: bool, seed: int, outliers: float
) -> np.ndarray:
    """Observed times from the known factors, lognormal noise (8 %) and slow outliers (+60 %)."""
    truth = _true_times(trips, routed, by_band=by_band)
    rng = np.random.default_rng(seed)
    noise = np.exp(rng.normal(0, 0.08, len(trips)))
    slow = rng.random(len(trips)) < outliers  # a stop on the way
    observed = truth * noise * np.where(slow, 1.6, 1.0)
    return np.where(routed.status == "ok", observed, 600.0)  # unusable trips: any time


@pytest.fixture(scope="module")
def synthetic(andorra_net: RoadNetwork) -> tuple[pd.DataFrame, cal.RoutedTrips]:
    """900 trips whose observed times follow TRUE and PRIMARY_BY_BAND, with noise and outliers."""
    trips = _trip_points(andorra_net, 900, seed=16)
    routed = cal.route_trips(andorra_net, trips)
    trips["observed_s"] = _observe(trips, routed, by_band=True, seed=7, outliers=0.04)
    return trips, routed


def _truth(factors: pd.DataFrame) -> np.ndarray:
    return np.array(
        [
            PRIMARY_BY_BAND.get(b, TRUE["primary"]) if c == "primary" else TRUE[c]
            for b, c in zip(factors["band"], factors["road_class"], strict=True)
        ]
    )


def trip_hour_band(trips: pd.DataFrame) -> list[str]:
    """The hour band of each trip, computed here from the hour by hand."""
    out = []
    for t in pd.DatetimeIndex(trips["start_time"]):
        h = t.hour
        out.append(
            "night"
            if h >= 22 or h < 6
            else "morning_peak"
            if h < 9
            else "day"
            if h < 15
            else "afternoon_peak"
            if h < 18
            else "evening"
        )
    return out


def _class_of(highway: object) -> str:
    tags = highway if isinstance(highway, list) else [highway]
    for tag in tags:
        for name, members in constants.CALIBRATION_ROAD_CLASSES.items():
            if tag in members:
                return name
    return "minor"


def test_routed_times_per_class_match_networkx(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    """The per-class split of 25 routes equals the edges of networkx's shortest path."""
    trips, routed = synthetic
    g = andorra_net.graph
    names = cal.road_class_names()
    ok = np.flatnonzero(routed.status == "ok")[:25]
    origins = snap_points(g, gpd.GeoSeries(trips["origin"].iloc[ok], crs=constants.WGS84))
    dests = snap_points(g, gpd.GeoSeries(trips["destination"].iloc[ok], crs=constants.WGS84))
    simple = nx.DiGraph()
    for u, v, d in g.edges(data=True):
        if not simple.has_edge(u, v) or d["travel_time"] < simple[u][v]["w"]:
            simple.add_edge(u, v, w=d["travel_time"], cls=_class_of(d.get("highway")))
    edge_class = {
        (u, v, k): _class_of(d.get("highway")) for u, v, k, d in g.edges(keys=True, data=True)
    }
    for j, i in enumerate(ok):
        h = simple.copy()
        for side in range(2):
            if origins.depart_node[j, side] >= 0:
                h.add_edge(
                    "o", int(origins.depart_node[j, side]), w=origins.depart_s[j, side], cls="o"
                )
            if dests.arrive_node[j, side] >= 0:
                h.add_edge(int(dests.arrive_node[j, side]), "d", w=dests.arrive_s[j, side], cls="d")
        path = nx.dijkstra_path(h, "o", "d", weight="w")
        total = nx.path_weight(h, path, weight="w")
        assert routed.routed_s[i] == pytest.approx(total, abs=1e-6)
        expect = dict.fromkeys(names, 0.0)
        for a, b in itertools.pairwise(path[1:-1]):
            expect[h[a][b]["cls"]] += h[a][b]["w"]
        first = origins.depart_s[j][list(origins.depart_node[j]).index(path[1])]
        last = dests.arrive_s[j][list(dests.arrive_node[j]).index(path[-2])]
        key_o = (int(origins.edge_u[j]), int(origins.edge_v[j]), int(origins.edge_key[j]))
        key_d = (int(dests.edge_u[j]), int(dests.edge_v[j]), int(dests.edge_key[j]))
        expect[edge_class[key_o]] += first - origins.access_s[j]
        expect[edge_class[key_d]] += last - dests.access_s[j]
        got = dict(zip(names, routed.class_s[i], strict=True))
        assert got == pytest.approx(expect, abs=1e-6)
        assert routed.fixed_s[i] == pytest.approx(origins.access_s[j] + dests.access_s[j])


def test_routed_totals_match_the_engine(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    trips, routed = synthetic
    ok = np.flatnonzero(routed.status == "ok")[:60]
    g = andorra_net.graph
    origins = snap_points(g, gpd.GeoSeries(trips["origin"].iloc[ok], crs=constants.WGS84))
    dests = snap_points(g, gpd.GeoSeries(trips["destination"].iloc[ok], crs=constants.WGS84))
    engine_s = np.diag(point_times(build_travel_time_graph(g), origins, destinations=dests))
    np.testing.assert_allclose(routed.routed_s[ok], engine_s, atol=1e-6)
    parts = routed.class_s[ok].sum(axis=1) + routed.fixed_s[ok]
    np.testing.assert_allclose(parts, routed.routed_s[ok], atol=1e-6)
    assert (routed.status == "ok").mean() > 0.8


def test_factors_recovered_within_their_intervals(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    """One factor per class (bands=all): each true factor lies in its 95 % interval."""
    trips, routed = synthetic
    trips = trips.assign(observed_s=_observe(trips, routed, by_band=False, seed=3, outliers=0.04))
    result = cal.calibrate_trips(andorra_net, trips, bands="all", folds=5, seed=1)
    fitted = result.factors[result.factors["fitted"] != "none"]
    assert set(fitted["road_class"]) == {"primary", "secondary", "minor"}
    for row, true in zip(fitted.itertuples(), _truth(fitted), strict=True):
        assert row.ci_low <= true <= row.ci_high, row
        assert row.ci_high - row.ci_low < 0.15, row  # informative, not just wide
    nothing = result.factors[result.factors["fitted"] == "none"]
    assert (nothing["factor"] == 1.0).all() and nothing["ci_low"].isna().all()
    assert "motorway" in set(nothing["road_class"])  # Andorra has none


def test_intervals_cover_the_truth_about_95_percent(
    synthetic: tuple[pd.DataFrame, cal.RoutedTrips],
) -> None:
    """Factors per hour band over 20 seeded noise draws: the 95 % intervals cover 88-100 %."""
    trips, routed = synthetic
    ok = routed.status == "ok"
    band = cal.trip_bands(trips["start_time"][ok], "hours")
    names = np.array(cal.band_names("hours"))
    hits, errors = [], []
    for seed in range(20):
        observed = _observe(trips, routed, by_band=True, seed=100 + seed, outliers=0.0)
        table = cal.fit_factors(
            routed.class_s[ok], routed.fixed_s[ok], observed[ok], band, n_bands=5
        )
        table = table[table["fitted"] != "none"].assign(band=lambda t: names[t["band"]])
        true = _truth(table)
        hits.append((table["ci_low"] <= true) & (true <= table["ci_high"]))
        errors.append(table["factor"] - true)
    coverage = float(np.mean(np.concatenate(hits)))
    assert 0.88 <= coverage <= 1.0, coverage
    assert abs(float(np.mean(np.concatenate(errors)))) < 0.01  # no bias


def test_factors_per_band_and_cross_validation(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    trips, routed = synthetic
    result = cal.calibrate_trips(andorra_net, trips, bands="hours", folds=5, seed=1)
    fitted = result.factors[result.factors["fitted"] != "none"]
    assert np.abs(fitted["factor"] - _truth(fitted)).max() < 0.08
    primary = fitted[fitted["road_class"] == "primary"].set_index("band")["factor"]
    assert len(primary) == 5 and primary["night"] > primary["morning_peak"] + 0.15
    total = result.validation.set_index("fold").loc["all"]
    assert total["trips"] == result.trips_used
    assert total["mae_min_after"] < 0.6 * total["mae_min_before"]
    # the outliers (+60 %) are left to the loss, so the fitted model is as biased as the truth
    usable = routed.status == "ok"
    assert result.trips_used == usable.sum()
    diff = _true_times(trips, routed, by_band=True) - trips["observed_s"].to_numpy()
    true_bias_min = float(diff[usable].mean()) / 60
    assert abs(total["bias_min_after"] - true_bias_min) < 0.05
    assert abs(total["bias_min_before"] - true_bias_min) > 0.5


def test_cross_validation_errors_by_hand() -> None:
    """Factor-1 errors ('before') are the routed times' MAE, MAPE and bias, computed by hand."""
    class_s = np.array([[300.0, 0, 0, 0, 0, 60.0]] * 12)
    fixed = np.full(12, 30.0)
    observed = np.array([400.0, 380.0, 420.0, 390.0] * 3)
    table = cal.cross_validate(class_s, fixed, observed, np.zeros(12, np.int64), n_bands=1, folds=3)
    total = table.set_index("fold").loc["all"]
    diff = 390.0 - observed
    assert total["mae_min_before"] == pytest.approx(np.abs(diff).mean() / 60)
    assert total["mape_pct_before"] == pytest.approx(100 * (np.abs(diff) / observed).mean())
    assert total["bias_min_before"] == pytest.approx(diff.mean() / 60)
    assert list(table["fold"]) == ["1", "2", "3", "all"]


def test_unusable_trips_reported_by_excel_row(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    trips, routed = synthetic
    trips = trips.copy()
    ok = np.flatnonzero(routed.status == "ok")
    far = gpd.GeoSeries.from_xy([1.2], [42.3], crs=constants.WGS84).to_numpy()[0]  # no roads
    trips.loc[ok[0], "origin"] = far
    trips.loc[ok[1], "observed_s"] = routed.routed_s[ok[1]] * 10  # ten times slower
    trips.loc[ok[2], "lights_sirens"] = False
    result = cal.calibrate_trips(andorra_net, trips, bands="all")
    by_row = result.unused.set_index("row")
    assert by_row.loc[ok[0] + 2, "reason"] == "unsnappable"
    assert by_row.loc[ok[1] + 2, "reason"] == "implausible_speed"
    assert "more than 3 times off" in by_row.loc[ok[1] + 2, "detail"]
    assert by_row.loc[ok[2] + 2, "reason"] == "no_lights_sirens"
    n_bad = int((routed.status != "ok").sum())
    assert result.trips_used == len(trips) - n_bad - 3
    assert len(result.unused) == n_bad + 3
    text = cal.describe_unused(result.unused)
    assert f"row {ok[0] + 2}: unsnappable" in text


def test_too_few_usable_trips(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    trips, _ = synthetic
    few = trips.iloc[:12].copy()
    few["observed_s"] = 1.0  # every one implausibly fast
    with pytest.raises(
        DataError, match=r"only 0 of 12 trips are usable; calibration needs at least 10\n"
    ):
        cal.calibrate_trips(andorra_net, few)
    with pytest.raises(ParameterError, match=r"bands 'month': use one of all, hours, week"):
        cal.calibrate_trips(andorra_net, trips, bands="month")


def test_trip_bands_by_hand() -> None:
    times = pd.Series(
        pd.to_datetime(
            ["2024-03-04 05:59", "2024-03-04 06:00", "2024-03-09 17:30", "2024-03-10 23:00"]
        )
    )
    assert list(cal.trip_bands(times, "hours")) == [0, 1, 3, 0]
    names = cal.band_names("week")
    assert [names[b] for b in cal.trip_bands(times, "week")] == [
        "weekday_night", "weekday_morning_peak", "weekend_afternoon_peak", "weekend_night"
    ]  # fmt: skip


def test_read_trips_swedish_csv(tmp_path: Path) -> None:
    path = tmp_path / "resor.csv"
    path.write_text(
        "origin_lon;origin_lat;destination_lon;destination_lat;start_time;drive_min;lights_sirens\n"
        "20,29;63,82;20,30;63,81;2024-05-01 14:32;7,5;ja\n"
        "20,29;63,82;20,30;63,81;2024-05-01T02:10;12;nej\n",
        encoding="utf-8",
    )
    trips = cal.read_trips(path)
    assert list(trips["row"]) == [2, 3]  # Excel rows: the header is row 1
    assert list(trips["observed_s"]) == [450.0, 720.0]
    assert list(trips["lights_sirens"]) == [True, False]
    assert trips["origin"].iloc[0].x == pytest.approx(20.29)


def test_read_trips_names_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "trips.csv"
    path.write_text(
        "origin_x,origin_y,destination_x,destination_y,start_time,drive_s\n"
        "759000,7077000,760000,7078000,2024-05-01 14:32,300\n"
        "759000,7077000,760000,7078000,igår,300\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match=r"trips\.csv row 3: start_time 'igår' is not an ISO"):
        cal.read_trips(path)


def test_profile_file_round_trip(
    tmp_path: Path, andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    """calibrate -> scenario profile CSV -> profiles.read_speed_profile: the fitted factors."""
    trips, _ = synthetic
    result = cal.calibrate_trips(andorra_net, trips, bands="week")
    path = write_speed_profile(cal.speed_profile(result, name="fitted"), tmp_path / "fitted.csv")
    profile = read_speed_profile(path)
    assert profile.band_names == cal.band_names("week")
    night = profile.band("weekend_night")
    assert (night.days, night.start_min, night.end_min) == ("weekend", 22 * 60, 6 * 60)
    peak = profile.band("weekday_morning_peak")
    assert (peak.days, peak.start_min, peak.end_min) == ("weekday", 6 * 60, 9 * 60)
    # Saturday 03:00 and Monday 07:30 fall in the bands calibration put them in
    stamps = pd.Series(pd.to_datetime(["2024-03-09 03:00", "2024-03-11 07:30"]))
    assert list(bands_at(profile, stamps)) == ["weekend_night", "weekday_morning_peak"]
    assert list(np.array(cal.band_names("week"))[cal.trip_bands(stamps, "week")]) == [
        "weekend_night",
        "weekday_morning_peak",
    ]
    for row in result.factors.itertuples():
        band = profile.band(row.band)
        tags = constants.CALIBRATION_ROAD_CLASSES[row.road_class]
        if row.road_class == "minor":
            assert band.other == pytest.approx(row.factor, rel=1e-5)
            assert not set(tags) & set(band.factors)
            assert band.factor("busway") == band.other  # unlisted classes count as minor
        for tag in tags:
            assert band.factor(tag) == pytest.approx(row.factor, rel=1e-5), (row.band, tag)


@pytest.mark.parametrize("bands", ["all", "hours"])
def test_profile_bands_cover_the_week(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips], bands: str
) -> None:
    trips, _ = synthetic
    result = cal.calibrate_trips(andorra_net, trips.head(200), bands=bands, folds=2)
    profile = cal.speed_profile(result)
    assert all(b.days == "all" for b in profile.bands)
    expected = {"all": [(0, 1440)], "hours": [(22 * 60, 6 * 60), (6 * 60, 9 * 60)]}[bands]
    assert [(b.start_min, b.end_min) for b in profile.bands[: len(expected)]] == expected


def test_cli_calibrate(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    andorra_pbf: Path,
    synthetic: tuple[pd.DataFrame, cal.RoutedTrips],
) -> None:
    """``planner calibrate`` then ``planner coverage --speed-profile`` on the file it wrote."""
    trips, _ = synthetic
    csv = tmp_path / "trips.csv"
    pd.DataFrame(
        {
            "origin_lon": [p.x for p in trips["origin"]],
            "origin_lat": [p.y for p in trips["origin"]],
            "destination_lon": [p.x for p in trips["destination"]],
            "destination_lat": [p.y for p in trips["destination"]],
            "start_time": pd.DatetimeIndex(trips["start_time"]).strftime("%Y-%m-%d %H:%M"),
            "drive_s": trips["observed_s"],
        }
    ).to_csv(csv, index=False)
    out = tmp_path / "profile.csv"
    args = [
        "calibrate", str(csv), "--pbf", str(andorra_pbf), "--no-cache", "--no-progress",
        "--out", str(out), "--table", str(tmp_path / "calibration.xlsx"), "--bands", "all",
    ]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "trips fitted; cross-validated (5 folds) MAE" in err
    assert "trip(s) not used:\n  row " in err
    profile = read_speed_profile(out)
    assert profile.band_names == ("all",)
    primary = profile.band("all").factor("primary")
    assert 0.7 < primary < 0.9  # the hour bands' factors, pooled
    sheets = pd.read_excel(tmp_path / "calibration.xlsx", sheet_name=None)
    assert len(sheets) >= 3
    fitted = sheets["factors"].set_index("road_class")
    assert primary == pytest.approx(fitted.loc["primary", "factor"], rel=1e-5)
    assert {"ci_low", "ci_high", "fitted"} <= set(fitted.columns)
    before = out.read_bytes()
    assert main(args) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    # the written file is a scenario speed profile: coverage runs its band
    cover = [
        "coverage", "--pbf", str(andorra_pbf), "--no-cache", "--no-progress",
        "--stations", str(EXAMPLE / "stations.csv"), "--demand", str(EXAMPLE / "demand.csv"),
        "--weight", "population", "--thresholds", "10,20", "--no-isochrones", "--not-sweden",
        "--out-dir", str(tmp_path / "cov"), "--speed-profile", str(out), "--band", "all",
    ]  # fmt: skip
    assert main(cover) == 0, capsys.readouterr().err
    stacked = read_csv_table(tmp_path / "cov" / "coverage_bands_total.csv")
    assert stacked["band"].unique().tolist() == ["all"]
    assert (tmp_path / "cov" / "bands" / "all" / "coverage_total.csv").is_file()


def test_cli_too_few_usable_trips_lists_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, andorra_pbf: Path
) -> None:
    csv = tmp_path / "trips.csv"
    csv.write_text(
        "origin_lon;origin_lat;destination_lon;destination_lat;start_time;drive_min\n"
        + "1,2;42,3;1,21;42,31;2024-05-01 10:00;5\n" * 3,
        encoding="utf-8",
    )
    out = tmp_path / "profile.csv"
    args = ["calibrate", str(csv), "--pbf", str(andorra_pbf), "--no-cache", "--no-progress",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error: only 0 of 3 trips are usable; calibration needs at least 10" in err
    assert "  row 4: unsnappable: origin or destination is not near a usable road" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_read_trips_with_utc_offsets_in_swedish_time(tmp_path: Path) -> None:
    path = tmp_path / "trips.csv"
    path.write_text(
        "origin_lon,origin_lat,destination_lon,destination_lat,start_time,drive_s\n"
        "20.29,63.82,20.30,63.81,2024-07-01T21:30:00Z,300\n"
        "20.29,63.82,20.30,63.81,2024-01-15T06:30:00+00:00,300\n",
        encoding="utf-8",
    )
    trips = cal.read_trips(path)
    # CEST (+2) in July, CET (+1) in January: 23:30 is night, 07:30 the morning peak
    assert list(pd.DatetimeIndex(trips["start_time"]).hour) == [23, 7]
    assert list(cal.trip_bands(trips["start_time"], "hours")) == [0, 1]


def test_search_limit_keeps_routes_and_flags_the_rest(
    andorra_net: RoadNetwork, synthetic: tuple[pd.DataFrame, cal.RoutedTrips]
) -> None:
    """Searches cut at each trip's limit give the same routes; trips beyond it are flagged."""
    trips, routed = synthetic
    sample = trips.iloc[:120].reset_index(drop=True)
    full = cal.RoutedTrips(
        *(getattr(routed, f)[:120] for f in cal.RoutedTrips.__dataclass_fields__)
    )
    ok = full.status == "ok"
    limit = np.where(np.arange(120) % 4 == 0, full.routed_s * 0.5, full.routed_s * 1.01 + 1)
    limited = cal.route_trips(andorra_net, sample, limit_s=limit)
    short = ok & (np.arange(120) % 4 == 0) & (full.routed_s > 0)
    assert short.sum() > 10
    assert (limited.status[short] == "beyond_limit").all()
    kept = ok & ~short
    np.testing.assert_allclose(limited.routed_s[kept], full.routed_s[kept])
    np.testing.assert_allclose(limited.class_s[kept], full.class_s[kept])
    assert (limited.status[~ok] == full.status[~ok]).all()
