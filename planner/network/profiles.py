"""Time-of-day speed profiles: speed factors per road class and time band.

A *speed profile* splits the week into *time bands* (night, morning peak,
day, afternoon peak, evening, weekend day ...) and gives each band a factor
per OSM road class. A factor multiplies the emergency speed of the speed
model (:mod:`planner.network.speeds`, after the blue-light factor); the
result is kept within the model's clamp. So a factor of 0.78 makes a road's
drive time 1/0.78 = 1.28 times as long, and a profile whose factors are all
1 gives exactly the network's own drive times. Ferries keep their timetable
in every band.

File format (CSV, UTF-8, ``,`` or ``;`` between fields; with ``;`` a decimal
comma is accepted; lines starting with ``#`` are comments)::

    band,days,start,end,other,motorway,primary,residential
    night,all,22:00,06:00,0.78,,,
    morning_peak,weekday,06:00,09:00,1,,0.97,0.97
    day,weekday,09:00,15:00,1,,,
    afternoon_peak,weekday,15:00,18:00,1,,0.97,0.97
    evening,all,18:00,22:00,1,,,
    weekend_day,weekend,06:00,18:00,1,,,

``band``
    The band's name: letters, digits, ``_`` and ``-`` (it names output
    folders), unique in the file (upper and lower case count as the same).
``days``
    ``weekday`` (Monday-Friday), ``weekend`` (Saturday and Sunday) or ``all``.
``start``, ``end``
    Local clock times ``HH:MM``; the window includes ``start`` and excludes
    ``end``; an ``end`` at or before ``start`` runs past midnight (``22:00`` to
    ``06:00``), ``24:00`` is midnight. A time belongs to the rows of its own
    calendar day: Saturday 02:00 is a weekend time even in a window that
    started on Friday evening.
``other``
    The factor of every road class without a column of its own (required).
one column per road class
    Any OSM ``highway`` class of :data:`planner.constants.HIGHWAY_SPEEDS_KPH`
    (``motorway``, ``primary``, ``residential`` ...); an empty cell means the
    row's ``other`` factor.

Factors are numbers in (0, :data:`planner.constants.MAX_SPEED_FACTOR`]. On
weekdays and at weekends every minute of the day must lie in exactly one
band. A road edge that merges several classes (after simplification) takes
the lowest factor among them, the cautious choice. Public holidays are not
known to the profile; give their calls a weekend timestamp if they should
count as weekends.

:func:`default_speed_profile` is the built-in profile (its values and
sources are in :mod:`planner.constants`), :func:`read_speed_profile` reads a
file, :func:`write_speed_profile` writes one, and :func:`band_at` /
:func:`bands_at` give the band of a time (for the simulation).
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from planner import constants
from planner.errors import InputFileError, MissingFileError, ParameterError

__all__ = [
    "DAY_TYPES",
    "SpeedProfile",
    "TimeBand",
    "band_at",
    "bands_at",
    "default_speed_profile",
    "read_speed_profile",
    "write_speed_profile",
]

DayType = Literal["weekday", "weekend", "all"]
#: Accepted values of the ``days`` column.
DAY_TYPES: tuple[DayType, ...] = ("weekday", "weekend", "all")
_REQUIRED = ("band", "days", "start", "end", "other")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_MIN_PER_DAY = 24 * 60


@dataclass(frozen=True)
class TimeBand:
    """One time band of a speed profile.

    Attributes
    ----------
    name
        The band's name (letters, digits, ``_``, ``-``).
    days
        ``"weekday"``, ``"weekend"`` or ``"all"``.
    start_min, end_min
        The window in minutes after midnight, local time: start in
        [0, 1440), end in (0, 1440], end exclusive; ``end_min <= start_min``
        runs past midnight.
    other
        Speed factor of every road class not in ``factors``.
    factors
        Speed factor per OSM ``highway`` class (read-only).
    """

    name: str
    days: DayType
    start_min: int
    end_min: int
    other: float
    factors: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", MappingProxyType(dict(self.factors)))

    def minutes(self) -> np.ndarray:
        """The minutes of the day (0-1439) the window covers."""
        if self.end_min > self.start_min:
            return np.arange(self.start_min, self.end_min)
        return np.concatenate([np.arange(self.start_min, _MIN_PER_DAY), np.arange(0, self.end_min)])

    def factor(self, highway: str) -> float:
        """The speed factor of one road class (``other`` for a class without its own)."""
        return float(self.factors.get(highway.strip().lower(), self.other))


@dataclass(frozen=True)
class SpeedProfile:
    """Time bands and their speed factors (see the module docstring).

    Attributes
    ----------
    name
        The profile's name (the file's stem, or ``"default"``).
    bands
        The bands in file order; on weekdays and at weekends every minute
        lies in exactly one.
    source
        The file it was read from, or None for the built-in default.
    """

    name: str
    bands: tuple[TimeBand, ...]
    source: str | None = None

    @property
    def band_names(self) -> tuple[str, ...]:
        """The bands' names, in file order."""
        return tuple(b.name for b in self.bands)

    def band(self, name: str, *, argument: str = "band") -> TimeBand:
        """The band called ``name``.

        Raises
        ------
        ParameterError
            If the profile has no such band (names ``argument``, the closest
            band and every band).
        """
        for b in self.bands:
            if b.name == name:
                return b
        close = difflib.get_close_matches(name, self.band_names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"{argument}: {name!r} is not a band of speed profile {self.name!r}{hint} "
            f"(bands: {', '.join(self.band_names)})"
        )

    def select(self, bands: str | Sequence[str], *, argument: str = "bands") -> tuple[str, ...]:
        """Band names from ``"all"`` or a list of names (checked, file order kept for "all")."""
        if isinstance(bands, str):
            if bands == "all":
                return self.band_names
            bands = [bands]
        names = tuple(self.band(str(b), argument=argument).name for b in bands)
        if len(set(names)) != len(names):
            raise ParameterError(f"{argument}: a band is named twice in {list(names)}")
        if not names:
            raise ParameterError(f"{argument}: name at least one band, or 'all'")
        return names

    def to_frame(self) -> pd.DataFrame:
        """One row per band: ``band``, ``days``, ``start``, ``end``, ``other``, then the classes."""
        classes = sorted({c for b in self.bands for c in b.factors})
        rows = []
        for b in self.bands:
            row: dict[str, object] = {
                "band": b.name,
                "days": b.days,
                "start": _clock(b.start_min),
                "end": _clock(b.end_min),
                "other": b.other,
            }
            row |= {c: b.factors.get(c, np.nan) for c in classes}
            rows.append(row)
        return pd.DataFrame(rows, columns=[*_REQUIRED, *classes])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def default_speed_profile() -> SpeedProfile:
    """The built-in profile (planning assumptions; sources in :mod:`planner.constants`).

    Night (22-06, every day): factor :data:`~planner.constants.SPEED_FACTOR_NIGHT`
    on every class. Weekday peaks (06-09, 15-18):
    :data:`~planner.constants.SPEED_FACTOR_PEAK` on
    :data:`~planner.constants.PEAK_SLOWED_CLASSES`, 1 elsewhere. Day, evening
    and weekend day: 1 (the speed model as it is).
    """
    bands = []
    for name, days, start, end in constants.SPEED_PROFILE_BANDS:
        other, factors = 1.0, {}
        if name == "night":
            other = constants.SPEED_FACTOR_NIGHT
        elif name.endswith("_peak"):
            factors = {c: constants.SPEED_FACTOR_PEAK for c in constants.PEAK_SLOWED_CLASSES}
        window = (_minutes(start, end=False), _minutes(end, end=True))
        bands.append(TimeBand(name, days, *window, other, factors))  # type: ignore[arg-type]
    profile = SpeedProfile("default", tuple(bands))
    _check_cover(profile, "default speed profile", {})
    return profile


def _minutes(text: str, *, end: bool) -> int:
    """``HH:MM`` -> minutes after midnight; ValueError if unreadable or out of range."""
    m = _CLOCK.match(text.strip())
    if not m or int(m[2]) >= 60:
        raise ValueError(text)
    value = int(m[1]) * 60 + int(m[2])
    if value > _MIN_PER_DAY or (value == _MIN_PER_DAY and not end):
        raise ValueError(text)
    if end and value == 0:
        return _MIN_PER_DAY
    return value


# ---------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------
def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the file's non-blank, non-comment lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"speed profile {path}: cannot read it as UTF-8 text") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"speed profile {path}: is a folder, not a file") from exc
    return [
        (i, line)
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _header(path: Path, line_no: int, fields: list[str]) -> list[str]:
    columns = [f.strip().lower() for f in fields]
    where = f"speed profile {path} line {line_no}"
    seen: set[str] = set()
    known = set(constants.HIGHWAY_SPEEDS_KPH)
    for col in columns:
        if col in seen:
            raise InputFileError(f"{where}: column {col!r} appears twice")
        seen.add(col)
        if col not in _REQUIRED and col not in known:
            close = difflib.get_close_matches(col, [*_REQUIRED, *sorted(known)], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputFileError(
                f"{where}: column {col!r} is not a road class{hint} "
                f"(road classes: {', '.join(sorted(known))})"
            )
    for col in _REQUIRED:
        if col not in seen:
            raise InputFileError(
                f"{where}: column {col!r} is missing; the header needs "
                f"{', '.join(_REQUIRED)} and then one column per road class"
            )
    return columns


def _factor(where: str, column: str, text: str, decimal_comma: bool) -> float:
    raw = text.strip().replace(",", ".") if decimal_comma else text.strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
        if raw:
            raise InputFileError(
                f"{where}, column {column!r}: {text.strip()!r} is not a number"
            ) from None
    if not (math.isfinite(value) and 0 < value <= constants.MAX_SPEED_FACTOR):
        raise InputFileError(
            f"{where}, column {column!r}: factor {text.strip()!r} must be a number in "
            f"(0, {constants.MAX_SPEED_FACTOR:g}]"
        )
    return value


def _row(
    path: Path, line_no: int, columns: list[str], fields: list[str], decimal_comma: bool
) -> TimeBand:
    where = f"speed profile {path} line {line_no}"
    if len(fields) != len(columns):
        raise InputFileError(f"{where}: has {len(fields)} fields but the header has {len(columns)}")
    cells = {c: f.strip() for c, f in zip(columns, fields, strict=True)}
    name = cells["band"]
    if not _NAME.match(name):
        raise InputFileError(
            f"{where}, column 'band': {name!r} is not a usable band name (letters, digits, "
            f"_ and -, at most 40, e.g. night)"
        )
    days = cells["days"].lower()
    if days not in DAY_TYPES:
        raise InputFileError(
            f"{where}, column 'days': {cells['days']!r} is not one of {', '.join(DAY_TYPES)}"
        )
    times = []
    for col in ("start", "end"):
        try:
            times.append(_minutes(cells[col], end=col == "end"))
        except ValueError:
            raise InputFileError(
                f"{where}, column {col!r}: {cells[col]!r} is not a clock time HH:MM "
                f"between 00:00 and 24:00"
            ) from None
    if times[0] == times[1] % _MIN_PER_DAY and times[1] != _MIN_PER_DAY:
        raise InputFileError(
            f"{where}: start and end are both {cells['start']}; the window is empty"
        )
    if not cells["other"]:
        raise InputFileError(f"{where}, column 'other': is empty; give the factor of other classes")
    other = _factor(where, "other", cells["other"], decimal_comma)
    factors = {
        c: _factor(where, c, cells[c], decimal_comma)
        for c in columns
        if c not in _REQUIRED and cells[c]
    }
    return TimeBand(name, days, times[0], times[1], other, factors)


def _check_cover(profile: SpeedProfile, where: str, lines: Mapping[str, int]) -> None:
    """Every minute of a weekday and of a weekend day in exactly one band."""
    for day in ("weekday", "weekend"):
        owner = np.full(_MIN_PER_DAY, -1)
        for i, band in enumerate(profile.bands):
            if band.days not in (day, "all"):
                continue
            minutes = band.minutes()
            taken = owner[minutes] >= 0
            if taken.any():
                first = int(minutes[np.flatnonzero(taken)[0]])
                other = profile.bands[int(owner[first])]
                raise InputFileError(
                    f"{where}: on a {day} {_clock(first)} is in band {other.name!r}"
                    f"{_at(lines, other.name)} and in band {band.name!r}{_at(lines, band.name)}; "
                    f"the windows must not overlap"
                )
            owner[minutes] = i
        free = np.flatnonzero(owner < 0)
        if len(free):
            start = int(free[0])
            run_end = start
            while run_end + 1 < _MIN_PER_DAY and owner[run_end + 1] < 0:
                run_end += 1
            raise InputFileError(
                f"{where}: on a {day} {_clock(start)}-{_clock(run_end + 1)} is in no band; "
                f"every minute of a weekday and of a weekend day needs one"
            )


def _at(lines: Mapping[str, int], name: str) -> str:
    return f" (line {lines[name]})" if name in lines else ""


def read_speed_profile(path: str | Path) -> SpeedProfile:
    """Read a speed-profile CSV file (format in the module docstring).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    SpeedProfile
        Named by the file's stem.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    InputFileError
        For a file that is not UTF-8 text, a bad header (missing required
        column, unknown road class with the closest one, a column named
        twice), a bad row (field count, band name, days, clock time, factor:
        naming the line and column), a band named twice, windows that
        overlap or leave a gap (naming the day type, the time and the bands).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"speed profile {path}: no such file")
    lines = _lines(path)
    if not lines:
        raise InputFileError(
            f"speed profile {path}: is empty; it needs a header and one row per band"
        )
    head_no, head = lines[0]
    delimiter = ";" if head.count(";") > head.count(",") else ","
    rows = list(csv.reader([text for _, text in lines], delimiter=delimiter))
    columns = _header(path, head_no, rows[0])
    if len(rows) == 1:
        raise InputFileError(f"speed profile {path}: has a header but no band")
    bands: list[TimeBand] = []
    where_named: dict[str, int] = {}
    for (line_no, _), fields in zip(lines[1:], rows[1:], strict=True):
        band = _row(path, line_no, columns, fields, decimal_comma=delimiter == ";")
        twin = next((n for n in where_named if n.lower() == band.name.lower()), None)
        if twin is not None:  # case apart, they would share an output folder on some systems
            raise InputFileError(
                f"speed profile {path} line {line_no}, column 'band': {band.name!r} is "
                f"already the band of line {where_named[twin]}"
            )
        where_named[band.name] = line_no
        bands.append(band)
    profile = SpeedProfile(path.stem, tuple(bands), source=str(path))
    _check_cover(profile, f"speed profile {path}", where_named)
    return profile


def write_speed_profile(profile: SpeedProfile, path: str | Path) -> Path:
    """Write a profile as a speed-profile CSV file that :func:`read_speed_profile` reads back.

    Parameters
    ----------
    profile
        The profile.
    path
        The file to write (``,`` between fields, decimal point, UTF-8);
        overwritten if it exists (callers check ``--overwrite``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    frame = profile.to_frame()
    header = "# planner speed profile: factors multiply the emergency speed; empty = other\n"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(header)
        frame.to_csv(f, index=False, float_format="%.6g", lineterminator="\n")
    return path


# ---------------------------------------------------------------------------
# The band of a time
# ---------------------------------------------------------------------------
def _band_table(profile: SpeedProfile) -> np.ndarray:
    """(2, 1440) band numbers: row 0 weekdays, row 1 weekend days, by minute."""
    table = np.full((2, _MIN_PER_DAY), -1, dtype=np.int64)
    for i, band in enumerate(profile.bands):
        for row, day in enumerate(("weekday", "weekend")):
            if band.days in (day, "all"):
                table[row, band.minutes()] = i
    return table


def bands_at(profile: SpeedProfile, times: Iterable[object] | pd.Series) -> np.ndarray:
    """The band of each time (vectorised; for the simulation's calls).

    Parameters
    ----------
    profile
        The speed profile.
    times
        Timestamps (datetime, ``pandas.Timestamp``, ISO strings, numpy
        datetime64) in local time; a time zone-aware one is read on its own
        wall clock.

    Returns
    -------
    numpy.ndarray
        Object array of band names, one per time.

    Raises
    ------
    ParameterError
        For a missing or unreadable time (naming its position).
    """
    values = pd.Series(list(times) if not isinstance(times, pd.Series) else times.to_list())
    try:
        stamps = pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"times: cannot read every value as a date and time ({exc})") from None
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    missing = stamps.isna().to_numpy()
    if missing.any():
        raise ParameterError(
            f"times: value {int(np.flatnonzero(missing)[0])} is missing; every call needs a time"
        )
    weekend = (stamps.dt.day_of_week >= 5).to_numpy().astype(np.int64)
    minute = (stamps.dt.hour * 60 + stamps.dt.minute).to_numpy().astype(np.int64)
    names = np.array(profile.band_names, dtype=object)
    return np.asarray(names[_band_table(profile)[weekend, minute]], dtype=object)


def band_at(profile: SpeedProfile, when: datetime | pd.Timestamp | str) -> str:
    """The band of one local time (see :func:`bands_at`), e.g. ``"night"`` at 03:00."""
    return str(bands_at(profile, [when])[0])
