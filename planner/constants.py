"""Named constants, each with its unit and its source.

Every default that shapes a number a planner reads lives here, so that it can
be found, cited and overridden in one place. Speeds are km/h (as on road
signs), times are seconds, distances are metres unless the name says otherwise.
"""

from __future__ import annotations

from types import MappingProxyType

# --------------------------------------------------------------------------
# Coordinate reference systems
# --------------------------------------------------------------------------
#: SWEREF 99 TM, the Swedish national projected CRS; all metric work happens here.
ANALYSIS_CRS = "EPSG:3006"
#: WGS 84 longitude/latitude, for web maps, GeoJSON and OSM input.
WGS84 = "EPSG:4326"

#: A generous lon/lat box around Sweden (W, S, E, N), degrees. Points outside it
#: in a Swedish stations file usually mean swapped lat/lon or a wrong CRS.
#: Source: Sweden spans about 10.96-24.17 E and 55.34-69.06 N (Lantmäteriet).
SWEDEN_BBOX_LONLAT = (10.0, 55.0, 24.5, 69.5)

# --------------------------------------------------------------------------
# Road network
# --------------------------------------------------------------------------
#: Buffer added around a region boundary before clipping roads, km, so that
#: roads which leave and re-enter the region (and the neighbour's stations)
#: still count. Planning choice.
DEFAULT_BUFFER_KM = 10.0

#: The drivable-road filter, as (tag, regex, negate) triples evaluated with
#: Overpass semantics: an unanchored regex search on the tag value; a missing
#: tag never matches a negated condition's regex (so it passes). ``highway``
#: must exist. Source: OSMnx 2.x ``network_type="drive"`` filter
#: (``osmnx._overpass._get_network_filter``) with its default access rule
#: ``["access"!~"private"]``, so that counts agree with OSMnx.
DRIVE_FILTER: tuple[tuple[str, str, bool], ...] = (
    ("area", "yes", True),
    ("access", "private", True),
    (
        "highway",
        "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
        "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
        "rest_area|service|services|steps|track",
        True,
    ),
    ("motor_vehicle", "no", True),
    ("motorcar", "no", True),
    ("service", "alley|driveway|emergency_access|parking|parking_aisle|private", True),
)

#: Way tags kept on graph edges (others are dropped when the network is built).
EDGE_TAGS = (
    "highway",
    "maxspeed",
    "oneway",
    "junction",
    "name",
    "ref",
    "route",
    "duration",
    "access",
    "motor_vehicle",
    "bridge",
    "tunnel",
)

#: Values of ``oneway`` that make a way one-way in its drawn direction, or
#: reversed (``-1``). Source: OSM wiki Key:oneway; OSMnx uses the same sets.
ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
ONEWAY_REVERSE = frozenset({"-1", "reverse"})

# --------------------------------------------------------------------------
# Emergency speed model (see planner.speeds)
# --------------------------------------------------------------------------
#: Speed for each OSM highway class when a way has no usable ``maxspeed``,
#: km/h. Source: Swedish default limits in Trafikförordningen (1998:1276)
#: 3 kap. 17 § (50 km/h in built-up areas, 70 km/h elsewhere) and the usual
#: signed limits per road class on Trafikverket's national road database
#: (motorway 110, trunk 90, primary 80); living streets are "gångfart"
#: (walking pace, taken as 7 km/h).
HIGHWAY_SPEEDS_KPH = MappingProxyType(
    {
        "motorway": 110.0,
        "motorway_link": 70.0,
        "trunk": 90.0,
        "trunk_link": 60.0,
        "primary": 80.0,
        "primary_link": 50.0,
        "secondary": 70.0,
        "secondary_link": 50.0,
        "tertiary": 60.0,
        "tertiary_link": 40.0,
        "unclassified": 50.0,
        "residential": 40.0,
        "living_street": 7.0,
        "road": 40.0,
        "busway": 50.0,
        "service": 20.0,
        "track": 20.0,
    }
)
#: Speed for a highway class missing from the table above, km/h.
FALLBACK_SPEED_KPH = 40.0

#: Swedish and generic ``maxspeed`` zone values, km/h. Source: OSM wiki
#: "Default speed limits" (Sweden) and Key:maxspeed; "gångfart" is 7 km/h.
MAXSPEED_ZONES_KPH = MappingProxyType(
    {
        "se:urban": 50.0,
        "se:rural": 70.0,
        "se:motorway": 110.0,
        "se:living_street": 7.0,
        "walk": 7.0,
        "gångfart": 7.0,
    }
)
#: ``maxspeed`` values that carry no number; the highway-class speed is used.
MAXSPEED_UNKNOWN = frozenset({"none", "signals", "variable", "implicit", "unposted", "no"})

#: Multiplier on posted speed for lights-and-siren driving. Planning
#: assumption, not a measured Swedish figure: studies of lights-and-siren
#: response report modest time savings over normal driving (for example
#: Ho & Lindquist 2001, Prehospital Emergency Care 5(2)). Calibrate it against
#: your own dispatch (ambulance journal) data.
BLUE_LIGHT_FACTOR = 1.15
#: Lowest and highest modelled emergency speed, km/h (after the factor).
MIN_SPEED_KPH = 5.0
MAX_SPEED_KPH = 140.0
#: Speeds above this are refused as absurd, km/h.
ABSURD_SPEED_KPH = 300.0

#: Values of ``motor_vehicle``/``motorcar`` that make a ``route=ferry`` way a
#: car ferry (others carry only passengers and are not road links). Source:
#: OSM wiki Tag:route=ferry.
FERRY_MOTOR_VALUES = frozenset({"yes", "designated", "permissive"})

#: Ferry speed when a ferry way has no ``duration`` tag, km/h. Source:
#: Trafikverket Färjerederiet's road ferries cruise at roughly 8-10 knots
#: (15-18 km/h); the lower end allows for boarding.
FERRY_SPEED_KPH = 15.0

#: Alarm handling at the dispatch centre, s. Planning assumption in the range
#: SOS Alarm reports for priority 1 calls; override with regional figures.
DISPATCH_S = 120.0
#: Time from alarm until the ambulance rolls ("utlarmningstid"), s. Planning
#: assumption; override with regional figures.
ROLL_OUT_S = 60.0

# --------------------------------------------------------------------------
# Snapping points to the network
# --------------------------------------------------------------------------
#: Speed on the straight leg between a point and its nearest road, km/h.
#: Planning assumption: a mix of slow driving on private drives and walking.
ACCESS_SPEED_KPH = 15.0
#: Points farther than this from any drivable road are reported, m.
MAX_SNAP_DISTANCE_M = 500.0

# --------------------------------------------------------------------------
# Travel times
# --------------------------------------------------------------------------
#: Cutoffs above this are refused as absurd, s (24 hours).
ABSURD_CUTOFF_S = 24 * 3600.0

# --------------------------------------------------------------------------
# Coverage and isochrones
# --------------------------------------------------------------------------
#: Default response-time thresholds, minutes (issue brief: 10, 20 and 30 min;
#: Swedish regions commonly report the share reached within 20 and 30 min).
DEFAULT_THRESHOLDS_MIN = (10.0, 20.0, 30.0)
#: Width added on each side of a reached road in an isochrone, m. Planning
#: choice: about a block, so that houses along a reached road fall inside.
ISOCHRONE_BUFFER_M = 100.0
#: Largest grid cell of the isochrone raster, m. Outlines follow cells; with
#: the 100 m buffer the cell used is 66.7 m (the buffer is 1.5 cells), which
#: keeps every outline within buffer + 95 m of a reached road (the
#: acceptance bound is buffer + 150 m) and a region's 100 stations × 3 bands
#: within seconds. Use a smaller cell for finer outlines.
ISOCHRONE_CELL_M = 70.0

# --------------------------------------------------------------------------
# Optimisation
# --------------------------------------------------------------------------
#: Cost, s, of a demand point that no *open* site reaches (though some
#: candidate does), and the cap on any response time in p-median and
#: p-center. Two hours: far beyond any Swedish response-time target (the
#: longest municipal medians are about an hour), so a solution never prefers
#: leaving demand unreached to serving it slowly, yet finite, so objectives
#: stay numbers (never inf or NaN) and exact and heuristic solvers agree.
#: Planning choice.
UNREACHED_PENALTY_S = 2 * 3600.0

#: Logistic survival curve S(t) = 1 / (1 + exp(a + b t)), t in minutes, for
#: out-of-hospital cardiac arrest. Source: De Maio et al. (2003), "Optimal
#: defibrillation response intervals for maximum out-of-hospital cardiac
#: arrest survival rates", Ann. Emerg. Med. 42(2), as used by Erkut,
#: Ingolfsson & Erdoğan (2008), "Ambulance location for maximum survival".
SURVIVAL_COEFFICIENTS = (0.679, 0.262)

#: Out-of-hospital cardiac arrests where the ambulance service starts
#: resuscitation, per inhabitant and year: roughly 55 per 100,000. Source:
#: Svenska HLR-registret's annual reports (on the order of 5,500-6,000 such
#: cases a year in a population of about 10.4 million). An approximate
#: planning figure; use the region's own registry figures where you have them.
OHCA_PER_PERSON_YEAR = 55 / 100_000

#: MEXCLP: share of time a unit is busy with other calls. Planning
#: assumption (Daskin 1983 leaves it to the planner); Swedish ambulances are
#: typically busy 20-40 % of the time. Use your own utilisation figures.
MEXCLP_BUSY_FRACTION = 0.3

#: Default spacing of the road-node grid of candidate sites, m. Planning
#: choice: a few km keeps a region's candidates in the low thousands.
CANDIDATE_GRID_SPACING_M = 3000.0

#: Exact covering models (MCLP, LSCP, p-center's covering steps) drop every
#: candidate whose covered set lies inside another candidate's, which keeps
#: the optimum (the standard column-dominance reduction of set covering,
#: e.g. Daskin, "Network and Discrete Location", 2nd ed., 2013, sec. 5.2).
#: The test costs rows x candidates² multiply-adds; above this many it is
#: skipped (about 10-20 s of BLAS on this machine). Implementation choice.
DOMINANCE_MAX_FLOPS = 2e11

#: Sparse (national) instances: stored demand-site pairs per candidate block
#: of the heuristic's gain and swap evaluation. A block's temporaries are
#: about ten float64 arrays of this length (~160 MB), so a worker's memory
#: beyond the instance stays bounded. Implementation choice.
SPARSE_BLOCK_PAIRS = 2_000_000
#: Sparse instances, models that are not a sum over demand points (p-center):
#: a block is densified to demand × candidates cells, at most this many
#: (256 MB of float64). Implementation choice.
SPARSE_DENSE_BLOCK_CELLS = 32_000_000
#: Blocks per worker of each heuristic round, so a slow or lost worker
#: holds up only a small share of the round. Implementation choice.
SPARSE_BLOCKS_PER_WORKER = 2
#: Largest dense array of times the pipeline builds: the optimiser's cost
#: matrix (demand × candidate sites × 8 bytes; above it, it asks for a
#: cutoff, a sparse instance) and coverage's stations × road nodes (above it,
#: coverage and isochrones run in blocks of stations). 2 GiB, a quarter of a
#: modest laptop's memory. Planning choice.
DENSE_COST_MAX_BYTES = 2 * 1024**3

# --------------------------------------------------------------------------
# Report and compare
# --------------------------------------------------------------------------
#: Colours of the report's plots: "before" (existing stations), "after"
#: (proposed sites added) and the marginal-gain curve. Source: the
#: colour-blind-safe palette of Okabe & Ito (2008), "Color Universal Design"
#: (grey, blue, bluish green); they also stay apart in greyscale print.
REPORT_COLOUR_BEFORE = "#7f7f7f"
REPORT_COLOUR_AFTER = "#0072b2"
REPORT_COLOUR_GAIN = "#009e73"
#: Size of each plot in the report, inches (width, height): two plots side by
#: side fit the text width of an A4 page with 12 mm margins. Layout choice.
REPORT_FIGURE_SIZE_IN = (3.6, 2.6)
#: Page size and margin of the printed report (CSS ``@page``), mm. Layout choice.
REPORT_PAGE_SIZE = "A4"
REPORT_PAGE_MARGIN_MM = 12.0
#: Most points drawn per response-time curve. Longer curves are drawn on an
#: even grid of this many points (under a quarter of a screen pixel apart on
#: a plot 3.6 in wide), which keeps the SVG small for region-scale demand
#: without a visible difference.
REPORT_CDF_MAX_POINTS = 1500

# --------------------------------------------------------------------------
# Distributed execution
# --------------------------------------------------------------------------
#: Most origins per block of a travel-time matrix (one Dijkstra call, one
#: file in a block store, one task on a Dask cluster).
MATRIX_MAX_BLOCK = 64
#: Working memory one block may use for its dense Dijkstra rows
#: (``block × nodes × 8`` bytes), bytes: the block size is lowered to stay
#: under it on large graphs (a 1M-node graph gets blocks of 32 origins).
#: Bounds each worker's memory; 256 MiB leaves room for several workers.
MATRIX_BLOCK_BYTES = 256 * 1024**2
#: Fewest blocks a matrix is split into when it has enough origins, so that
#: up to this many workers all get a share (10 origins make 10 blocks of 1).
MATRIX_MIN_BLOCKS = 16
#: Times a block is retried after its task failed or its worker died, before
#: the whole run fails.
BLOCK_RETRIES = 3

# --------------------------------------------------------------------------
# Shortest-path engines (planner.engine)
# --------------------------------------------------------------------------
#: Resolution of the contraction-hierarchy engine, s: edge times are rounded
#: to whole milliseconds, because RoutingKit sums 32-bit integers (up to
#: 2**31 - 1 ms, about 596 hours). A time then differs from the exact one by
#: at most half of this per edge of its path.
CCH_RESOLUTION_S = 0.001
#: Seeded nodes whose full Dijkstra and CCH searches make a network's engine
#: profile (its reach by drive time, and how much the hierarchy helps), once
#: per network when its hierarchy is built. Planning choice: 8 samples put the
#: reached share within a few per cent on the benchmark graphs.
ENGINE_PROFILE_SOURCES = 8
#: Seed of those nodes.
ENGINE_PROFILE_SEED = 19
#: Each engine's searches from those nodes are repeated until they have used
#: this much CPU time, s, so that small networks are timed reliably.
ENGINE_PROFILE_MIN_S = 0.05
#: Drive times kept of the profile (a sorted, evenly thinned sample).
ENGINE_PROFILE_SAMPLE = 4096
#: The "auto" engine takes the CCH only when its expected cost is below this
#: share of Dijkstra's: the profile's ratio is measured once, on a machine
#: that may be busy (within about ±30 % in the issue 19 measurements), and a
#: near tie is better left to the exact engine. Planning choice.
CCH_MARGIN = 0.75
#: CPU time of one CCH query, relative to the same query to every node, by
#: the share of the nodes that are targets: (share, relative cost) points,
#: interpolated in log(share). Source: benchmarks/travel_times.py and the
#: engine measurements of issue 19 on the SYNTHETIC 200k- and 1M-node grids
#: (10, 1,000, 20,000 and 100,000 targets: 0.03-0.08, 0.30, 0.32-0.60,
#: 0.50-0.85 of the all-node query), rounded up: a grid is the worst case.
CCH_TARGET_COST: tuple[tuple[float, float], ...] = (
    (1e-5, 0.04),
    (1e-4, 0.09),
    (1e-3, 0.2),
    (1e-2, 0.32),
    (1e-1, 0.6),
    (0.5, 0.85),
    (1.0, 1.0),
)

# --------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------
#: Colours from fastest to slowest response, sampled evenly for the classes
#: "<= first threshold" ... "> last threshold" of the isochrone bands and the
#: response-time surface. ColorBrewer RdYlGn (5 classes, reversed):
#: colour-blind safe enough for a step legend with labels.
MAP_RESPONSE_PALETTE = ("#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c")
#: Colour of surface cells and demand points no station reaches.
MAP_UNREACHABLE_COLOUR = "#3f3f3f"
#: Station icon colour per fleet; any other fleet is drawn in the fallback colour.
MAP_FLEET_COLOURS = MappingProxyType({"ambulance": "#c62828", "psychiatric": "#6a1b9a"})
MAP_OTHER_FLEET_COLOUR = "#546e7a"
#: Fill colour of the proposed new sites (a star).
MAP_PROPOSED_COLOUR = "#ffb300"
#: Fill opacity of isochrone bands and surface cells (0-1).
MAP_BAND_OPACITY = 0.45
MAP_SURFACE_OPACITY = 0.65
#: Response-time surface: the hexagon width (across flats, m) is chosen so
#: that about this many cells cover the bounding box of the road nodes,
#: rounded up to a multiple of the step and kept within the bounds below.
#: Planning choice: a few thousand cells keep the HTML small (a few MB at
#: most) and still show a region's valleys and towns.
MAP_SURFACE_TARGET_CELLS = 3000
MAP_SURFACE_MIN_CELL_M = 200.0
MAP_SURFACE_MAX_CELL_M = 10_000.0
MAP_SURFACE_CELL_STEP_M = 50.0
#: Tolerance of the simplification of polygons (isochrones, boundaries)
#: before they are drawn, m: well below a map pixel at town zoom levels.
MAP_SIMPLIFY_M = 20.0
#: Decimals kept of longitudes and latitudes in the map (5 ≈ 1 m).
MAP_COORD_DECIMALS = 5
#: Where an empty map opens (lat, lon, zoom): the middle of Sweden.
MAP_DEFAULT_VIEW = (62.0, 15.0, 5)
#: Size of a station icon on the map, CSS pixels (proposed sites are 4 px larger).
MAP_ICON_PX = 22
