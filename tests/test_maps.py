"""The interactive map (planner.outputs.maps) on real Andorra runs: layers, numbers, offline."""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import ANDORRA_AMENITIES, amenity_demand

from planner.errors import OutputExistsError, ParameterError
from planner.inputs.candidates import candidates_on_grid
from planner.inputs.sites import read_osm_pois, validate_stations
from planner.network.road_network import RoadNetwork
from planner.outputs.export import OSM_ATTRIBUTION
from planner.outputs.maps import (
    MapLayers,
    build_map,
    choose_cell_size,
    layer_names,
    response_surface,
    write_map,
)
from planner.run.pipeline import OptimiseSettings, run_coverage, run_optimise

#: The two Andorra hospitals used as stations (as in test_optimise_pipeline).
HOSPITALS = (2050364490, 194554955)
#: Demand farther than this from a road is unreachable (m): small, so that
#: some real amenities are unreachable and the layer has points.
MAX_SNAP_M = 60.0
THRESHOLD_MIN = 10.0


def make_andorra_layers(net: RoadNetwork, pbf: Path) -> MapLayers:
    """Coverage before and after two proposed sites in Andorra (real OSM data)."""
    hospitals = read_osm_pois(pbf, tags={"amenity": ["hospital"]})
    near = hospitals[hospitals["osm_id"].isin(HOSPITALS)]
    stations = validate_stations(
        near.assign(name=[f"H{i}" for i in near["osm_id"]], fleet="ambulance", units=1),
        check_sweden=False,
    )
    demand = amenity_demand(read_osm_pois(pbf, tags={"amenity": list(ANDORRA_AMENITIES)}))
    before = run_coverage(net, stations, demand, max_snap_m=MAX_SNAP_M)
    result = run_optimise(
        net,
        stations,
        demand,
        candidates_on_grid(net, spacing_m=2000),
        settings=OptimiseSettings(objective="mclp", add=2, threshold_min=THRESHOLD_MIN),
        max_snap_m=MAX_SNAP_M,
    )
    added = gpd.GeoDataFrame(
        {"name": result.sites["site"], "fleet": "ambulance", "units": 1},
        geometry=result.sites.geometry.to_numpy(),
        crs=result.sites.crs,
    )
    stations_after = validate_stations(
        gpd.GeoDataFrame(
            pd.concat([stations[["name", "fleet", "units", "geometry"]], added]),
            crs=stations.crs,
        ).reset_index(drop=True),
        check_sweden=False,
    )
    after = run_coverage(net, stations_after, demand, max_snap_m=MAX_SNAP_M)
    return MapLayers(
        title="Andorra: two proposed ambulance sites",
        label="TEST: Andorra OSM extract (not a Swedish region)",
        stations=before.stations,
        isochrones=before.fleet_bands,
        isochrones_after=after.fleet_bands,
        road_nodes=before.road_nodes,
        road_nodes_after=after.road_nodes,
        demand=before.demand,
        demand_after=after.demand,
        proposed_sites=result.sites,
        threshold_min=THRESHOLD_MIN,
    )


@pytest.fixture(scope="module")
def layers(andorra_net: RoadNetwork, andorra_pbf: Path) -> MapLayers:
    return make_andorra_layers(andorra_net, andorra_pbf)


@pytest.fixture(scope="module")
def page(layers: MapLayers) -> str:
    return build_map(layers, offline=True).get_root().render()


def _group(m: object, name: str) -> object:
    found = [
        child
        for child in m._children.values()  # type: ignore[attr-defined]
        if getattr(child, "layer_name", None) == name
    ]
    assert len(found) == 1, name
    return found[0]


def _features(m: object, name: str) -> list[dict]:
    group = _group(m, name)
    (geojson,) = [c for c in group._children.values() if hasattr(c, "data")]  # type: ignore[attr-defined]
    return geojson.data["features"]


def test_layers_legends_title_and_attribution(layers: MapLayers, page: str) -> None:
    names = layer_names(layers)
    assert list(names.values()) == [
        "Stations",
        "Response time (before)",
        "Response time (after)",
        "Isochrones (before)",
        "Isochrones (after)",
        "Unreachable demand (before)",
        "Unreachable demand (after)",
        "Proposed sites",
    ]
    overlays = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.S)
    assert overlays is not None
    listed = re.findall(r'"([^"]+)"\s*:', overlays.group(1))
    assert sorted(listed) == sorted(names.values())
    for key in ("isochrones", "response_time", "stations", "demand", "demand_after"):
        assert f"'data-legend', \"{key}\"" in page
    # the step legend shows the threshold classes
    for text in ("≤ 10 min", "10–20 min", "20–30 min", "&gt; 30 min", "unreachable"):
        assert text in page
    assert layers.title in page and layers.label is not None and layers.label in page
    assert f"<title>{layers.title}</title>" in page
    assert OSM_ATTRIBUTION in page
    assert "addAttribution" in page
    # controls
    assert "L.control.fullscreen" in page
    assert "L.Control.Measure" in page
    assert "L.control.layers" in page
    assert 'name="planner-scenario" value="after"' in page


def test_coordinates_are_lonlat_and_rounded(layers: MapLayers) -> None:
    m = build_map(layers)
    for name in ("Isochrones (before)", "Response time (after)"):
        features = _features(m, name)
        assert features
        coords = np.concatenate(
            [
                shapely.get_coordinates(shapely.from_geojson(json.dumps(f["geometry"])))
                for f in features
            ]
        )
        # Andorra: about 1.4-1.8 E, 42.4-42.7 N
        assert coords[:, 0].min() > 1.3 and coords[:, 0].max() < 1.9
        assert coords[:, 1].min() > 42.3 and coords[:, 1].max() < 42.8
        np.testing.assert_array_equal(coords, np.round(coords, 5))


def test_proposed_site_popups_show_the_table(layers: MapLayers, page: str) -> None:
    sites = layers.proposed_sites
    assert sites is not None and len(sites) == 2
    popups = [json.loads(p) for p in re.findall(r'\.bindPopup\(("(?:[^"\\]|\\.)*")', page)]
    assert len(popups) == len(sites)
    column = f"demand_newly_within_{THRESHOLD_MIN:g}_min"
    for _, row in sites.iterrows():
        (popup,) = [p for p in popups if f": {row['site']}</b>" in p]
        cells = dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", popup))

        def number(label: str, cells: dict[str, str] = cells) -> float:
            return float(cells[label].removesuffix(" min").replace(",", ""))

        assert number(f"People newly within {THRESHOLD_MIN:g} min") == round(row[column])
        assert number("People newly reached (no station reached them)") == round(
            row["demand_newly_reached"]
        )
        assert number("Minutes saved, person-minutes") == round(row["person_minutes_saved"])
        assert number("Minutes saved, mean per person helped") == pytest.approx(
            row["mean_minutes_saved"], abs=0.05
        )
        assert number("Expected extra cardiac-arrest survivors per year") == pytest.approx(
            row["expected_survivors_per_year"], abs=5e-4
        )
        assert f"Proposed site {row['order']}: {row['site']}" in popup
    # the first site reaches people within T min: the popup is not all zeros
    assert sites[column].iloc[0] > 0


def test_unreachable_demand_is_the_non_finite_times(layers: MapLayers, page: str) -> None:
    m = build_map(layers)
    for name, frame in (
        ("Unreachable demand (before)", layers.demand),
        ("Unreachable demand (after)", layers.demand_after),
    ):
        assert frame is not None
        times = frame["response_min"].to_numpy(dtype=float)
        expected = int((~np.isfinite(times)).sum())
        assert expected > 0  # the small snap distance leaves some amenities off-road
        features = _features(m, name)
        assert len(features) == expected
        ids = {f["properties"]["demand_id"] for f in features}
        assert ids == set(frame.loc[~np.isfinite(times), "demand_id"])
        weight = frame.loc[~np.isfinite(times), "weight"].sum()
        assert f"{expected:,} points, total weight {weight:,.0f}" in page


def test_surface_matches_a_per_cell_loop(layers: MapLayers) -> None:
    nodes = layers.road_nodes
    assert nodes is not None
    cell = 500.0
    surface = response_surface(nodes, cell_m=cell)
    # every cell is a regular hexagon of this width
    np.testing.assert_allclose(surface.area, math.sqrt(3) / 2 * cell**2, rtol=1e-9)
    x, y = nodes.geometry.x.to_numpy(), nodes.geometry.y.to_numpy()
    t = nodes["response_min"].to_numpy(dtype=float)
    assert (~np.isfinite(t)).any()  # some nodes are unreachable
    seen = 0
    for _, row in surface.iterrows():
        inside = t[shapely.contains_xy(row.geometry, x, y)]
        seen += len(inside)
        assert row["n_nodes"] == len(inside)
        assert row["fastest_min"] == min(inside)
        assert row["median_min"] == pytest.approx(statistics.median(inside.tolist()))
    assert seen == len(nodes)  # each node in exactly one cell
    # the map shows those values
    m = build_map(layers, surface_cell_m=cell)
    features = _features(m, "Response time (before)")
    shown = sorted(
        (f["properties"]["n_nodes"], f["properties"]["median_min"] or math.inf) for f in features
    )
    expected = sorted(
        (int(n), round(v, 2) if math.isfinite(v) else math.inf)
        for n, v in zip(surface["n_nodes"], surface["median_min"], strict=True)
    )
    assert shown == expected
    unreachable = [f for f in features if f["properties"]["median_min"] is None]
    assert all(f["properties"]["median"] == "unreachable" for f in unreachable)


def test_cell_size_follows_the_extent(layers: MapLayers) -> None:
    cell = choose_cell_size(layers.road_nodes)
    assert 200 <= cell <= 2000 and cell % 50 == 0
    box = layers.road_nodes.total_bounds  # type: ignore[union-attr]
    cells = (box[2] - box[0]) * (box[3] - box[1]) / (math.sqrt(3) / 2 * cell**2)
    assert 2000 < cells <= 3000  # about the target count, rounded up to a 50 m step


def test_offline_html_loads_nothing_remote(layers: MapLayers, page: str) -> None:
    remote = re.findall(
        r"<(?:script|link)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>", page, re.I
    )
    assert remote == []
    assert "<script src=" not in page and "<link " not in page
    assert '"1.9.3"' in page  # Leaflet itself is inlined
    assert "leaflet-control-layers-toggle" in page  # its CSS too, with the icon as data:
    assert "url(images/" not in page and "url(icon-fullscreen.svg)" not in page
    online = build_map(layers).get_root().render()
    links = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=\"(https?://[^\"]+)\"", online)
    assert any("leaflet@1.9.3/dist/leaflet.js" in u for u in links)
    assert any("leaflet-measure" in u for u in links)
    assert not any(w in u for u in links for w in ("jquery", "bootstrap", "fontawesome"))
    assert len(page) > len(online)


def test_boundaries_of_a_swedish_region() -> None:
    from planner.network.regions import load_municipalities, load_regions

    regions = load_regions()
    municipalities = load_municipalities()
    gotland = pd.concat(
        [
            regions[regions["code"] == "09"].assign(level="region"),
            municipalities[municipalities["region_code"] == "09"].assign(level="municipality"),
        ]
    )[["name", "code", "level", "geometry"]]
    layers = MapLayers(title="Gotland", boundaries=gpd.GeoDataFrame(gotland, crs=regions.crs))
    assert layer_names(layers) == {"regions": "Regions", "municipalities": "Municipalities"}
    m = build_map(layers)
    (region,) = _features(m, "Regions")
    assert region["properties"]["code"] == "09"
    (municipality,) = _features(m, "Municipalities")
    assert municipality["properties"]["code"] == "0980"
    page = m.get_root().render()
    assert '"Regions"' in page and '"Municipalities"' in page
    assert "plannerSetScenario" not in page  # no before/after switch without "after" layers


def test_stations_get_one_icon_per_fleet(layers: MapLayers) -> None:
    stations = layers.stations
    assert stations is not None
    mixed = pd.concat(
        [stations, stations.iloc[:1].assign(name="P1", fleet="psychiatric")], ignore_index=True
    )
    page = build_map(MapLayers(title="fleets", stations=mixed)).get_root().render()
    assert page.count('"className": "planner-icon planner-icon-ambulance"') == len(stations)
    assert page.count('"className": "planner-icon planner-icon-psychiatric"') == 1
    # the icons are inline SVG, not a font from a CDN
    assert '.planner-icon-ambulance { background-image: url("data:image/svg+xml,' in page
    assert "fa-" not in page.split("<body>", 1)[1]


def test_write_map_refuses_to_overwrite(layers: MapLayers, tmp_path: Path) -> None:
    path = write_map(layers, tmp_path / "map.html", offline=True)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(OutputExistsError, match="exists"):
        write_map(layers, path)
    small = MapLayers(title="replaced", stations=layers.stations)
    write_map(small, path, overwrite=True)
    assert "<title>replaced</title>" in path.read_text(encoding="utf-8")
    with pytest.raises(ParameterError, match=r"\.html"):
        write_map(small, tmp_path / "map.txt")
    with pytest.raises(ParameterError, match="does not exist"):
        write_map(small, tmp_path / "missing" / "map.html")


def test_write_map_is_atomic(
    layers: MapLayers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "map.html"
    path.write_text("old map", encoding="utf-8")
    original = Path.write_text

    def half_then_fail(self: Path, data: str, *args: object, **kwargs: object) -> int:
        original(self, data[: len(data) // 2], encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_map(MapLayers(title="new", stations=layers.stations), path, overwrite=True)
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == "old map"
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # no temporary file left


def test_bad_layers_are_refused(layers: MapLayers) -> None:
    with pytest.raises(ParameterError, match="response_min"):
        MapLayers(title="x", road_nodes=layers.road_nodes.drop(columns="response_min"))  # type: ignore[union-attr]
    with pytest.raises(ParameterError, match="thresholds_min"):
        MapLayers(title="x", thresholds_min=(20, 10))
    with pytest.raises(ParameterError, match="title"):
        MapLayers(title=" ")
    with pytest.raises(ParameterError, match="CRS"):
        stations = layers.stations
        assert stations is not None
        bare = gpd.GeoDataFrame(
            stations.drop(columns="geometry"), geometry=stations.geometry.to_numpy()
        )
        MapLayers(title="x", stations=bare)
    with pytest.raises(ParameterError, match="surface_cell_m"):
        response_surface(layers.road_nodes, cell_m=0)  # type: ignore[arg-type]
