"""Languages of what people read: Swedish and English (a ground-floor package).

Every text a person reads in a map, a report, a spreadsheet header or a
console summary goes through a :class:`Translator`: its :meth:`~Translator.gettext`
looks the English source text up in the language's gettext catalogue
(``planner/i18n/locale/<lang>/LC_MESSAGES/planner.po``), and its number
methods format with Babel in the locale's own way (CLDR):

======================  ===================  =====================
what                    ``sv``               ``en``
======================  ===================  =====================
:meth:`~Translator.number` 7363324      ``7 363 324`` (U+00A0)  ``7,363,324``
:meth:`~Translator.percent` 0.879       ``87,9 %`` (U+00A0)     ``87.9%``
:meth:`~Translator.minutes` 12.5        ``12,5 min``            ``12.5 min``
:meth:`~Translator.date`                ``6 december 2026``     ``December 6, 2026``
======================  ===================  =====================

The group separator and the space before ``%`` in Swedish are the no-break
space U+00A0, as CLDR (and so Babel) has them.

No global state: a translator is made by :func:`translator` from a language
code and passed explicitly to whatever writes text. Catalogues are read from
the ``.po`` files and compiled in memory with :mod:`babel.messages` when a
translator is first made (no compiled ``.mo`` files are kept in git); the
result is cached per language, as the catalogue files do not change while
planner runs.

Marking texts for extraction: call ``tr.gettext("...")`` (or ``ngettext``)
with a literal, or wrap a module-level constant in :func:`N_` and translate
it where it is shown. ``pybabel extract -F babel.cfg -o
planner/i18n/locale/planner.pot planner`` collects them (see
``planner/i18n/README.md``); ``tests/test_i18n.py`` fails when a marked text
has no Swedish translation.

Which language by default: Swedish for a Swedish region or municipality,
English for an area outside Sweden (a custom boundary), see
:func:`default_language`. Machine-readable names (CSV, Parquet and
GeoPackage columns, JSON keys) never change with the language.
"""

from __future__ import annotations

import datetime as dt
import gettext as _gettext
import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, cast

from planner.errors import DataError, ParameterError

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Language",
    "Translator",
    "check_language",
    "default_language",
    "translator",
]

#: A language code planner writes in.
Language = Literal["sv", "en"]

#: The languages planner writes in, Swedish first.
LANGUAGES: tuple[Language, ...] = ("sv", "en")

#: The language of functions called without one (the source language of the catalogue).
DEFAULT_LANGUAGE: Language = "en"

#: The CLDR locale of each language's numbers and dates.
_LOCALES = {"sv": "sv_SE", "en": "en_GB"}

#: The gettext domain of planner's catalogues.
DOMAIN = "planner"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translate where it is shown)."""
    return message


def check_language(value: Any, *, argument: str = "language") -> Language:
    """Return ``value`` if it is a language planner writes in, else raise.

    Raises
    ------
    ParameterError
        Naming ``argument`` and the valid codes.
    """
    if value not in LANGUAGES:
        raise ParameterError(
            f'{argument} = {value!r} is not a language planner writes in; use "sv" '
            '(Swedish) or "en" (English), e.g. language = "sv"'
        )
    return cast(Language, value)


def default_language(*, in_sweden: bool) -> Language:
    """Swedish for a Swedish region or municipality, English for an area elsewhere."""
    return "sv" if in_sweden else "en"


def _po_text(language: Language) -> bytes:
    path = resources.files("planner.i18n") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"{path}: the {language!r} catalogue is missing from this installation"
        ) from None


def _compile(language: Language) -> _gettext.NullTranslations:
    """The language's ``.po`` catalogue, compiled in memory (fuzzy entries are left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalogue = read_po(io.BytesIO(_po_text(language)), locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def _rounded(value: float, digits: int) -> float:
    """Round, and turn -0.0 into 0.0 so that no "-0" is printed."""
    rounded = round(float(value), digits)
    return 0.0 if rounded == 0 else rounded


@dataclass(frozen=True)
class Translator:
    """Texts and numbers in one language (make it with :func:`translator`).

    Attributes
    ----------
    language
        ``"sv"`` or ``"en"``.
    """

    language: Language
    _catalogue: _gettext.NullTranslations = field(repr=False, compare=False)

    # -- texts ---------------------------------------------------------------
    def gettext(self, message: str) -> str:
        """``message`` (English source text) in this language."""
        return self._catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural text for ``n``, in this language."""
        return self._catalogue.ngettext(singular, plural, n)

    # -- numbers (Babel, CLDR) -----------------------------------------------
    @property
    def locale(self) -> Any:
        """The :class:`babel.Locale` of this language (English: British usage, "1 May 2024")."""
        from babel import Locale

        return Locale.parse(_LOCALES[self.language])

    def _pattern(self, kind: str, digits: int) -> Any:
        from babel.numbers import parse_pattern

        locale = self.locale
        formats = locale.percent_formats if kind == "percent" else locale.decimal_formats
        pattern = parse_pattern(formats[None].pattern)
        pattern.frac_prec = (digits, digits)
        return pattern

    def number(self, value: Any, digits: int = 0, *, signed: bool = False) -> str:
        """A number with the locale's grouping and ``digits`` decimals: ``7 363 324``.

        Missing (None, NaN) gives ``"–"``; infinite gives the word for unreachable.
        ``signed`` writes a ``+`` before positive numbers (changes).
        """
        if _missing(value):
            return "–"
        if math.isinf(float(value)):
            return self.gettext("unreachable")
        from decimal import Decimal

        rounded = _rounded(float(value), digits)
        text = self._pattern("decimal", digits).apply(Decimal(repr(rounded)), self.locale)
        return f"+{text}" if signed and rounded >= 0 else text

    def weight(self, value: Any) -> str:
        """A demand weight: whole numbers without decimals, others with one."""
        if _missing(value) or math.isinf(float(value)):
            return self.number(value)
        v = float(value)
        return self.number(v, 0 if abs(v - round(v)) < 1e-9 else 1)

    def percent(self, share: Any, digits: int = 1) -> str:
        """A share 0-1 as a percentage: ``87,9 %`` (sv), ``87.9%`` (en); ``"–"`` if missing."""
        if _missing(share) or math.isinf(float(share)):
            return "–"
        from decimal import Decimal

        value = Decimal(repr(_rounded(100 * float(share), digits))) / 100
        return str(self._pattern("percent", digits).apply(value, self.locale))

    def points(self, change: Any, digits: int = 1) -> str:
        """A change of a share, in signed percentage points: ``+5,2 p.e.`` / ``+5.2 pp``."""
        if _missing(change) or math.isinf(float(change)):
            return "–"
        number = self.number(100 * float(change), digits, signed=True)
        unit = self.gettext("pp")
        return f"{number} {unit}"

    def minutes(
        self, value: Any, digits: int = 1, *, unit: bool = True, signed: bool = False
    ) -> str:
        """Minutes with ``digits`` decimals: ``12,5 min``; not finite gives "unreachable"."""
        if _missing(value):
            return "–"
        if math.isinf(float(value)):
            return "–" if signed else self.gettext("unreachable")
        text = self.number(value, digits, signed=signed)
        return f"{text} min" if unit else text

    def date(self, value: dt.date | dt.datetime | str) -> str:
        """A date in the locale's long form: ``6 december 2026`` / ``December 6, 2026``.

        An ISO text (``2026-12-06`` or ``2026-12-06T10:00:00Z``) is read first;
        any other text is returned as it is.
        """
        from babel.dates import format_date

        day: dt.date
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value[:10])
            except ValueError:
                return value
        else:
            day = value.date() if isinstance(value, dt.datetime) else value
        return str(format_date(day, format="long", locale=self.locale))


def _missing(value: Any) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


@lru_cache(maxsize=len(LANGUAGES))
def translator(language: Language = DEFAULT_LANGUAGE) -> Translator:
    """The :class:`Translator` of ``language`` (its catalogue compiled once, then cached).

    Raises
    ------
    ParameterError
        If ``language`` is not ``"sv"`` or ``"en"``.
    """
    language = check_language(language)
    return Translator(language=language, _catalogue=_compile(language))
