"""The funds registry: which funds exist, paper or live, their strategies and compliance setup.

Read from YAML (``MTS_FUNDS_FILE``) and validated with msgspec; every error names the file
and the field, e.g. ``funds.yaml: funds[1].mode: Expected 'paper' | 'live', got 'demo'``.
Compliance reporting is off unless a fund turns it on, and turning it on requires the
identifiers the report needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec
import yaml

from mts1b_operations.core import schemas, subjects

__all__ = [
    "EXAMPLE_FUNDS_FILE",
    "Fund",
    "FundCompliance",
    "FundMode",
    "FundsError",
    "FundsFileError",
    "FundsRegistry",
    "Mifid2TimestampGranularity",
    "Mifid2TradingCapacity",
    "UnknownFundError",
    "UnknownStrategyError",
    "is_valid_lei",
    "load_funds",
]

EXAMPLE_FUNDS_FILE: Final = Path(__file__).parent / "data" / "funds.example.yaml"
"""The contract's example registry (two paper funds, one live), used by the dev stack."""

FundMode = Literal["paper", "live"]

_CatSubscriberId = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{4,16}\Z")]
_CatSubmitterId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{1,32}\Z")]
_CatReporterImid = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,7}\Z")]
_Crd = Annotated[int, msgspec.Meta(ge=1, le=99_999_999)]
_CatFdid = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,40}\Z")]
_CatDestination = Annotated[str, msgspec.Meta(pattern=r"^(?:[A-Z0-9]{1,7}|[0-9]{1,8}:[A-Z0-9]{1,7})\Z")]
_CatSession = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
_CatFileGroup = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{1,20}\Z")]
_Mpid = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{4}\Z")]
_OatsOsoId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{1,12}\Z")]
_Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}\Z")]
"""An ISO 3166-1 alpha-2 country code (the format; ``XX``-style user codes are not refused)."""
_Mifid2Algo = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,50}\Z")]
"""An RTS 22 algorithm id (fields 57 and 59): 1-50 upper-case letters and digits."""
Mifid2TradingCapacity = Literal["DEAL", "MTCH", "AOTC"]
Mifid2TimestampGranularity = Literal["second", "millisecond", "microsecond"]
_Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]


def is_valid_lei(lei: str) -> bool:
    """ISO 17442: 18 upper-case alphanumerics and 2 check digits, the whole being 1 mod 97."""
    if len(lei) != 20 or not lei.isascii() or not lei.isalnum() or not lei[18:].isdigit():
        return False
    if lei != lei.upper():
        return False
    return int("".join(str(int(ch, 36)) for ch in lei)) % 97 == 1


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise schemas.FieldValueError(field, problem)


class FundCompliance(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Regulatory reporting for one fund; everything is off by default."""

    cat_enabled: bool = False
    cat_subscriber_id: _CatSubscriberId | None = None
    cat_submitter_id: _CatSubmitterId | None = None
    cat_reporter_imid: _CatReporterImid | None = None
    cat_reporter_crd: _Crd | None = None
    cat_dept_type: Literal["A", "ATS", "DMA", "SA", "T", "O"] = "T"
    """CAT deptType of the desk originating the fund's orders (``T``: proprietary trading)."""
    cat_account_holder_type: Literal["A", "E", "F", "I", "O", "V", "P", "X"] = "P"
    """CAT accountHolderType of the fund's account (``P``: other proprietary)."""
    cat_firm_designated_id: _CatFdid | None = None
    """The FDID registered in CAIS for the fund's account; the fund_id when unset."""
    cat_capacity: Literal["A", "P", "R"] = "P"
    """CAT capacity on trade events (``P``: principal)."""
    cat_trading_session: Literal["FOR", "PRE", "PREREG", "REG", "REGPOST", "POST", "PREPOST", "ALL"] = "REG"
    cat_initiator: Literal["C", "F"] = "F"
    """Who initiates modifications and cancels (``F``: the firm; the fund is proprietary)."""
    cat_destinations: dict[str, _CatDestination] = {}
    """OMS venue → CAT route destination: an Exchange ID (``NYSE``) or an Industry Member ``CRD:IMID``."""
    cat_route_session: _CatSession | None = None
    """The exchange session (port) id reported on routes to exchanges."""
    cat_file_group: _CatFileGroup | None = None
    """Optional group component of the CAT data file names."""
    oats_enabled: bool = False
    oats_firm_mpid: _Mpid | None = None
    oats_reporting_oso_id: _OatsOsoId | None = None
    """OATS header Reporting OSO ID: a third party (e.g. the clearing firm) allowed to see the files."""
    oats_account_type_code: Literal["A", "E", "I", "O", "P", "X"] = "P"
    """OATS Account Type Code of the fund's orders (``P``: proprietary)."""
    oats_receiving_department_id: Literal["A", "T", "P", "O"] = "T"
    """OATS Receiving Department ID (``T``: trading desk)."""
    oats_capacity_code: Literal["A", "P", "R"] = "P"
    """OATS Execution Report Capacity Code (``P``: principal)."""
    mifid2_enabled: bool = False
    mifid2_executing_entity_lei: str | None = None
    mifid2_submitting_entity_lei: str | None = None
    """RTS 22 field 6; defaults to the executing entity (a firm submitting its own reports)."""
    mifid2_buyer_seller_lei: str | None = None
    """The fund's own LEI when it is a client of the executing entity; unset when dealing on own account."""
    mifid2_branch_country: _Country | None = None
    """RTS 22 field 37 (country of the branch membership), ISO 3166-1 alpha-2."""
    mifid2_competent_authority: _Country | None = None
    """The NCA receiving the files (AppHdr To); defaults to the branch country."""
    mifid2_investment_decision_algo: _Mifid2Algo | None = None
    """RTS 22 field 57; defaults to the strategy id, upper-cased, letters and digits only."""
    mifid2_execution_algo: _Mifid2Algo | None = None
    """RTS 22 field 59; defaults to the investment decision algorithm."""
    mifid2_trading_capacity: Mifid2TradingCapacity = "DEAL"
    mifid2_timestamp_granularity: Mifid2TimestampGranularity = "millisecond"
    """RTS 25 granularity of the trading date time: microsecond for HFT, millisecond for other algorithmic
    trading, second for voice and non-algorithmic trading."""

    def __post_init__(self) -> None:
        _require(
            not self.cat_enabled or self.cat_subscriber_id is not None,
            "cat_subscriber_id",
            "is required when cat_enabled is true",
        )
        _require(
            not self.oats_enabled or self.oats_firm_mpid is not None,
            "oats_firm_mpid",
            "is required when oats_enabled is true",
        )
        lei = self.mifid2_executing_entity_lei
        _require(
            not self.mifid2_enabled or lei is not None,
            "mifid2_executing_entity_lei",
            "is required when mifid2_enabled is true",
        )
        _require(
            lei is None or is_valid_lei(lei),
            "mifid2_executing_entity_lei",
            f"{lei!r} is not a valid LEI (20 characters, ISO 17442 check digits)",
        )
        self._check_mifid2()

    def _check_mifid2(self) -> None:
        for name in ("mifid2_submitting_entity_lei", "mifid2_buyer_seller_lei"):
            value = getattr(self, name)
            _require(
                value is None or is_valid_lei(value),
                name,
                f"{value!r} is not a valid LEI (20 characters, ISO 17442 check digits)",
            )
        _require(
            self.mifid2_trading_capacity != "AOTC" or self.mifid2_buyer_seller_lei is not None,
            "mifid2_buyer_seller_lei",
            "is required when mifid2_trading_capacity is AOTC (the client is the buyer or seller)",
        )


class Fund(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One fund: its mode, strategies, risk targets and compliance setup."""

    fund_id: str
    mode: FundMode
    strategies: list[str] = []
    vol_target: _Fraction | None = None
    """Annualised volatility target, as a fraction (0.12 is 12%)."""
    drawdown_limit: _Fraction | None = None
    """Largest tolerated drawdown from peak NAV, as a fraction."""
    allow_live_flatten: bool = False
    compliance: FundCompliance = msgspec.field(default_factory=FundCompliance)

    def __post_init__(self) -> None:
        subjects.token_of("fund_id", self.fund_id)
        seen: set[str] = set()
        for i, strategy in enumerate(self.strategies):
            subjects.token_of(f"strategies[{i}]", strategy)
            _require(strategy not in seen, f"strategies[{i}]", f"{strategy!r} is listed twice")
            seen.add(strategy)

    @property
    def is_paper(self) -> bool:
        return self.mode == "paper"

    @property
    def is_live(self) -> bool:
        return self.mode == "live"


class _FundsDocument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The YAML file's top level, with the checks that span funds."""

    funds: list[Fund]

    def __post_init__(self) -> None:
        fund_index: dict[str, int] = {}
        owner: dict[str, str] = {}
        for i, fund in enumerate(self.funds):
            first = fund_index.setdefault(fund.fund_id, i)
            _require(
                first == i, f"funds[{i}].fund_id", f"duplicate fund_id {fund.fund_id!r} (also funds[{first}])"
            )
            for j, strategy in enumerate(fund.strategies):
                other = owner.setdefault(strategy, fund.fund_id)
                _require(
                    other == fund.fund_id,
                    f"funds[{i}].strategies[{j}]",
                    f"strategy {strategy!r} already belongs to fund {other!r}",
                )


def _where(*parts: str) -> str:
    return ": ".join(part for part in parts if part)


class FundsError(ValueError):
    """The registry is invalid; ``field`` is the path of the offending field (``funds[1].mode``)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(_where(field, problem))


class FundsFileError(FundsError):
    """The funds file cannot be read or is invalid; the message names the file and the field."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.file = file
        self.args = (_where(file, field, problem),)


class UnknownFundError(KeyError):
    """No fund has this id."""

    def __init__(self, fund_id: str) -> None:
        self.fund_id = fund_id
        super().__init__(fund_id)

    def __str__(self) -> str:
        return f"unknown fund {self.fund_id!r}"


class UnknownStrategyError(KeyError):
    """No fund runs this strategy."""

    def __init__(self, strategy_id: str) -> None:
        self.strategy_id = strategy_id
        super().__init__(strategy_id)

    def __str__(self) -> str:
        return f"no fund runs strategy {self.strategy_id!r}"


def _validate(raw: Any) -> _FundsDocument:
    try:
        return schemas.convert(raw, _FundsDocument)
    except schemas.SchemaError as exc:
        raise FundsError(exc.path.removeprefix("$").removeprefix("."), exc.problem) from None


class FundsRegistry:
    """The validated set of funds, with lookups by fund and by strategy.

    Constructing one checks every fund (ids are subject tokens, enumerations, compliance
    rules), that fund ids are unique and that each strategy belongs to one fund only;
    a violation raises :class:`FundsError`.
    """

    __slots__ = ("_by_id", "_by_strategy", "_funds")

    def __init__(self, funds: Iterable[Fund] = ()) -> None:
        document = _validate({"funds": msgspec.to_builtins(list(funds))})
        self._funds: tuple[Fund, ...] = tuple(document.funds)
        self._by_id = {fund.fund_id: fund for fund in self._funds}
        self._by_strategy = {s: fund for fund in self._funds for s in fund.strategies}

    @classmethod
    def empty(cls) -> FundsRegistry:
        return cls(())

    @property
    def funds(self) -> tuple[Fund, ...]:
        return self._funds

    def fund(self, fund_id: str) -> Fund:
        try:
            return self._by_id[fund_id]
        except KeyError:
            raise UnknownFundError(fund_id) from None

    def fund_of_strategy(self, strategy_id: str) -> Fund:
        try:
            return self._by_strategy[strategy_id]
        except KeyError:
            raise UnknownStrategyError(strategy_id) from None

    def paper_funds(self) -> tuple[Fund, ...]:
        return tuple(fund for fund in self._funds if fund.mode == "paper")

    def live_funds(self) -> tuple[Fund, ...]:
        return tuple(fund for fund in self._funds if fund.mode == "live")

    def all_strategies(self) -> tuple[str, ...]:
        return tuple(self._by_strategy)

    def __contains__(self, fund_id: object) -> bool:
        return fund_id in self._by_id

    def __iter__(self) -> Iterator[Fund]:
        return iter(self._funds)

    def __len__(self) -> int:
        return len(self._funds)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FundsRegistry) and self._funds == other._funds

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FundsRegistry({[fund.fund_id for fund in self._funds]!r})"


def load_funds(path: str | os.PathLike[str]) -> FundsRegistry:
    """Read and validate a funds YAML file; any problem raises :class:`FundsFileError`."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FundsFileError(name, "", f"cannot read the funds file: {problem}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FundsFileError(name, "", f"not valid YAML: {_yaml_problem(exc)}") from None
    if raw is None:
        raise FundsFileError(name, "", "the file is empty; expected a top-level 'funds:' list")
    try:
        return FundsRegistry(_validate(raw).funds)
    except FundsError as exc:
        raise FundsFileError(name, exc.field, exc.problem) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return str(exc)
