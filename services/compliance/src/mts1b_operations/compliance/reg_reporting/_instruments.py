"""The instrument reference: what a regulator calls the symbols the OMS trades.

Order events carry a ticker; MiFID II reports an ISIN, a venue MIC and a price currency. The
mapping lives in a YAML file (``MTS_COMPLIANCE_INSTRUMENTS_FILE``) validated with msgspec at load,
every error naming the file and the field, e.g.
``instruments.yaml: instruments.AAPL.isin: 'US0378331006' is not a valid ISIN``::

    instruments:
      AAPL: {isin: US0378331005, mic: XNAS, currency: USD, cfi: ESVUFR, full_name: Apple Inc.}

A symbol missing from the reference is not an error here: the report that needs it is held as
rejected, naming the field, until the reference (or an operator's repair) supplies it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
import yaml

from mts1b_operations.core import schemas, subjects

from ._identifiers import is_valid_isin

__all__ = [
    "EXAMPLE_INSTRUMENTS_FILE",
    "INSTRUMENTS_FILE_ENV",
    "Instrument",
    "InstrumentReference",
    "InstrumentsError",
    "InstrumentsFileError",
    "load_instruments",
]

EXAMPLE_INSTRUMENTS_FILE: Final = Path(__file__).parent.parent / "data" / "instruments.example.yaml"
"""The symbols the dev stack's replay trades, with their real ISINs."""

INSTRUMENTS_FILE_ENV: Final = "MTS_COMPLIANCE_INSTRUMENTS_FILE"

_Mic = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{4}\Z")]
_Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}\Z")]
_Cfi = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{6}\Z")]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=350)]


class Instrument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One tradable instrument: its ISO identifiers and where it trades."""

    isin: str | None = None
    """ISO 6166, check digit verified; may be absent (reports needing it are then rejected)."""
    mic: _Mic
    """ISO 10383 MIC of the trading venue (the primary listing) the firm trades it on."""
    currency: _Currency
    """ISO 4217 price currency."""
    cfi: _Cfi | None = None
    """ISO 10962 classification, e.g. ``ESVUFR`` for common shares."""
    full_name: _Name | None = None

    def __post_init__(self) -> None:
        if self.isin is not None and not is_valid_isin(self.isin):
            raise schemas.FieldValueError(
                "isin", f"{self.isin!r} is not a valid ISIN (12 characters, ISO 6166 check digit)"
            )


class InstrumentsError(ValueError):
    """The reference is invalid; ``field`` is the offending field's path (``instruments.AAPL.isin``)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(": ".join(part for part in (field, problem) if part))


class InstrumentsFileError(InstrumentsError):
    """The instruments file cannot be read or is invalid; the message names the file and the field."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.file = file
        self.args = (": ".join(part for part in (file, field, problem) if part),)


class InstrumentReference:
    """Symbol → :class:`Instrument`, plus the reverse lookup by ISIN an operator's repair needs."""

    __slots__ = ("_by_isin", "_by_symbol")

    def __init__(self, instruments: Mapping[str, Instrument] | Iterable[tuple[str, Instrument]] = ()) -> None:
        items = instruments.items() if isinstance(instruments, Mapping) else instruments
        self._by_symbol: dict[str, Instrument] = {}
        for symbol, instrument in items:
            subjects.token_of("symbol", symbol)
            self._by_symbol[symbol] = instrument
        self._by_isin = {i.isin: i for i in self._by_symbol.values() if i.isin is not None}

    @classmethod
    def empty(cls) -> InstrumentReference:
        return cls(())

    def get(self, symbol: str) -> Instrument | None:
        return self._by_symbol.get(symbol)

    def by_isin(self, isin: str) -> Instrument | None:
        return self._by_isin.get(isin)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_symbol)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __repr__(self) -> str:
        return f"InstrumentReference({list(self._by_symbol)!r})"


def _parse(raw: Any) -> InstrumentReference:
    if not isinstance(raw, Mapping) or set(raw) != {"instruments"}:
        raise InstrumentsError("", "expected a single top-level 'instruments:' mapping of symbol to fields")
    entries = raw["instruments"]
    if not isinstance(entries, Mapping):
        raise InstrumentsError("instruments", "expected a mapping of symbol to instrument fields")
    parsed: list[tuple[str, Instrument]] = []
    for symbol, fields in entries.items():
        where = f"instruments.{symbol}"
        if not isinstance(symbol, str):
            raise InstrumentsError(where, "the symbol must be a string")
        try:
            subjects.token_of("symbol", symbol)
        except ValueError as exc:
            raise InstrumentsError(where, str(exc)) from None
        try:
            parsed.append((symbol, schemas.convert(fields, Instrument)))
        except schemas.SchemaError as exc:
            field = exc.path.removeprefix("$").removeprefix(".")
            raise InstrumentsError(f"{where}.{field}" if field else where, exc.problem) from None
    return InstrumentReference(parsed)


def load_instruments(path: str | os.PathLike[str]) -> InstrumentReference:
    """Read and validate an instruments YAML file; any problem raises :class:`InstrumentsFileError`."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InstrumentsFileError(name, "", f"cannot read the instruments file: {problem}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InstrumentsFileError(name, "", f"not valid YAML: {exc}") from None
    if raw is None:
        raise InstrumentsFileError(name, "", "the file is empty; expected a top-level 'instruments:' mapping")
    try:
        return _parse(raw)
    except InstrumentsError as exc:
        raise InstrumentsFileError(name, exc.field, exc.problem) from None
