"""Exceptions raised by planner.

Every exception derives from :class:`PlannerError` and also from the built-in
exception a Python user would expect (``ValueError``, ``FileNotFoundError``,
``LookupError`` ...), so ``except ValueError`` keeps working. The command line
turns any :class:`PlannerError` into a one-line message and exit code 2, and
any :class:`PlannerWarning` into a one-line ``warning:`` message.

Messages name the file, row or argument that is wrong and, where possible,
what would be accepted instead. A file is named with the option or scenario
key it came from (:func:`file_label`), and rows of a table are numbered as
Excel shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import os

__all__ = [
    "CacheWarning",
    "DataError",
    "DownloadError",
    "InfeasibleError",
    "InputFileError",
    "MissingFileError",
    "NoRoadsError",
    "OutputExistsError",
    "OutputLockedError",
    "ParameterError",
    "PlannerError",
    "PlannerWarning",
    "RegionNotFoundError",
    "UnsafeCacheError",
    "file_label",
]


def file_label(path: str | os.PathLike[str], argument: str | None = None) -> str:
    """How messages name an input file: its path, then the option or key it came from.

    ``file_label("stations.csv", "--stations")`` is ``"stations.csv (--stations)"``;
    without ``argument`` it is the path alone. The layer that knows where a
    path came from (the command line, a scenario) builds the label and passes
    it down as the readers' ``source``.
    """
    text = os.fspath(path)
    return f"{text} ({argument})" if argument else text


class PlannerError(Exception):
    """Base class of every error planner raises on purpose."""


class ParameterError(PlannerError, ValueError):
    """An argument or setting has a value planner cannot use (names the argument)."""


class MissingFileError(PlannerError, FileNotFoundError):
    """An input file does not exist."""


class InputFileError(PlannerError, ValueError):
    """An input file exists but cannot be read, or holds bad rows (names file and row)."""


class DataError(PlannerError, ValueError):
    """Input data are readable but cannot be used for the requested work."""


class InfeasibleError(DataError):
    """No choice of sites satisfies the model (for example LSCP with uncoverable demand)."""


class NoRoadsError(DataError):
    """A road source holds no drivable road inside the requested area."""


class RegionNotFoundError(PlannerError, LookupError):
    """A region or municipality name or code matches nothing; suggests close names."""


class DownloadError(PlannerError, ConnectionError):
    """A download (Overpass) failed; nothing was cached."""


class OutputExistsError(PlannerError, FileExistsError):
    """An output file exists and ``overwrite`` was not given."""


class PlannerWarning(UserWarning):
    """Input that is legal but suspicious (an option that has no effect, a station off the roads).

    Issued with :func:`warnings.warn`; the command line prints each one as a
    single ``warning: ...`` line on stderr and carries on.
    """


class OutputLockedError(PlannerError, RuntimeError):
    """Another planner run is writing the same output (its lock is held)."""


class UnsafeCacheError(PlannerError, PermissionError):
    """A cache folder can be written by every user (world-writable, no sticky bit)."""


class CacheWarning(PlannerWarning):
    """A cache entry was refused and rebuilt, could not be stored, or its folder is shared."""
