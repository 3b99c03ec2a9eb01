"""The ten watchdogs and their parameters: one msgspec Struct each, with validated ranges and defaults.

Every parameter set shares the alerting parameters of :class:`AlertParams` (``for``: evaluations
the condition must hold before it fires; ``repeat_interval``: seconds between repeats of a firing
alert, 0 for none). A watchdog with a level has a ``threshold`` (fire at or above) and a ``clear``
level below it (hysteresis: a firing alert resolves only below ``clear``); one whose condition is
an interval or a limit has ``clear_ratio`` (resolves once the breach ratio is below it).

Postgres stores only the parameters an operator set (overrides); the effective parameters are
the defaults with the overrides laid over them, validated as a whole by :func:`effective_params`.
A bad value raises :class:`ConfigError` naming the parameter; an unknown watchdog raises
:class:`UnknownWatchdogError` naming the valid ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Final, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from mts1b_operations.core import schemas, subjects

__all__ = [
    "KIND_OF",
    "PARAMS_TYPES",
    "UPSTREAMS_VARIABLE",
    "WATCHDOG_NAMES",
    "AlertParams",
    "ConfigError",
    "DbParams",
    "DependencyParams",
    "DriftParams",
    "NewsParams",
    "ParameterDoc",
    "Params",
    "PositionParams",
    "PredictiveHealthParams",
    "StrategyParams",
    "ThetaParams",
    "UnknownWatchdogError",
    "VolDdParams",
    "VpinParams",
    "WatchdogName",
    "check_name",
    "default_params",
    "effective_params",
    "merge_overrides",
    "parameter_docs",
    "parse_upstreams",
]

WatchdogName = Literal[
    "predictive_health",
    "drift_monitor",
    "vpin",
    "news_spike",
    "position_anomaly",
    "db_watchdog",
    "strategy_watchdog",
    "theta_watchdog",
    "dependency_watchdog",
    "portfolio_vol_dd",
]
WATCHDOG_NAMES: Final[tuple[str, ...]] = get_args(WatchdogName)

KIND_OF: Final[Mapping[str, subjects.WatchdogKind]] = {
    "predictive_health": "health",
    "drift_monitor": "drift",
    "vpin": "vpin",
    "news_spike": "news",
    "position_anomaly": "position",
    "db_watchdog": "db",
    "strategy_watchdog": "strategy",
    "theta_watchdog": "theta",
    "dependency_watchdog": "dependency",
    "portfolio_vol_dd": "vol_dd",
}
"""Watchdog name -> the kind in its alert subject (``mts.v1.operations.watchdog.<kind>``)."""

UPSTREAMS_VARIABLE: Final = "MTS_WATCHDOG_UPSTREAMS"

P = TypeVar("P", bound="AlertParams")


class ConfigError(ValueError):
    """A parameter is unknown or out of range; ``field`` names it."""

    def __init__(self, watchdog: str, field: str, problem: str) -> None:
        self.watchdog = watchdog
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class UnknownWatchdogError(KeyError):
    """No watchdog has this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown watchdog {self.name!r}; the watchdogs are: {', '.join(WATCHDOG_NAMES)}"


def check_name(name: str) -> WatchdogName:
    """``name`` if it is a watchdog's name; :class:`UnknownWatchdogError` otherwise."""
    if name not in WATCHDOG_NAMES:
        raise UnknownWatchdogError(name)
    return name  # type: ignore[return-value]


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise schemas.FieldValueError(field, problem)


def _doc(text: str, **bounds: Any) -> msgspec.Meta:
    return msgspec.Meta(description=text, **bounds)


_Token = Annotated[str, msgspec.Meta(pattern=schemas.TOKEN_PATTERN)]
_Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class AlertParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alerting discipline shared by every watchdog."""

    for_: Annotated[
        int, _doc("evaluations the condition must hold before the alert fires", ge=1, le=10_000)
    ] = msgspec.field(default=1, name="for")
    repeat_interval: Annotated[
        float,
        _doc("seconds between repeats of a firing alert; 0 sends it once per episode", ge=0, le=7 * 86_400),
    ] = 0.0


class _Level(AlertParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    def __post_init__(self) -> None:
        threshold, clear = getattr(self, "threshold"), getattr(self, "clear")  # noqa: B009
        _require(clear <= threshold, "clear", f"must be <= threshold ({clear} > {threshold})")


class VpinParams(_Level, frozen=True, kw_only=True, forbid_unknown_fields=True):
    threshold: Annotated[float, _doc("VPIN at or above which the alert fires", gt=0, le=1)] = 0.4
    clear: Annotated[float, _doc("VPIN below which a firing alert resolves", ge=0, le=1)] = 0.35
    bucket_volume: Annotated[float, _doc("shares per equal-volume bucket (V)", gt=0)] = 10_000.0
    bucket_volumes: Annotated[
        dict[_Token, Annotated[float, msgspec.Meta(gt=0)]], _doc("per-symbol V overriding bucket_volume")
    ] = {}
    window: Annotated[int, _doc("buckets in the VPIN average (n)", ge=1, le=10_000)] = 50
    bar_seconds: Annotated[int, _doc("bar length of bulk volume classification", ge=1, le=3_600)] = 60

    def volume_for(self, symbol: str) -> float:
        return self.bucket_volumes.get(symbol, self.bucket_volume)


class NewsParams(_Level, frozen=True, kw_only=True, forbid_unknown_fields=True):
    threshold: Annotated[
        float, _doc("sigmas (one-sided normal tail) at which the alert fires", gt=0, le=40)
    ] = 5.0
    clear: Annotated[float, _doc("sigmas below which a firing alert resolves", gt=0, le=40)] = 3.0
    bin_seconds: Annotated[int, _doc("length of a counting interval", ge=1, le=86_400)] = 300
    history_bins: Annotated[
        int, _doc("intervals of history kept per symbol for the baseline", ge=2, le=100_000)
    ] = 2_016
    min_history_bins: Annotated[
        int, _doc("intervals of history before the baseline replaces prior_rate", ge=1)
    ] = 12
    prior_rate: Annotated[float, _doc("items per interval assumed while the history is short", gt=0)] = 0.5
    min_rate: Annotated[float, _doc("floor of the baseline rate per interval", gt=0)] = 0.05
    large_rate: Annotated[
        float, _doc("baseline rate per interval from which the robust median/MAD z is used", gt=0)
    ] = 30.0
    time_of_day: Annotated[bool, _doc("baseline per time-of-day slot once a day of history exists")] = True
    slot_minutes: Annotated[int, _doc("length of a time-of-day slot (divides 1440)", ge=1, le=1_440)] = 60
    min_slot_observations: Annotated[
        int, _doc("intervals a slot needs before its own rate is used", ge=1)
    ] = 3
    timezone: Annotated[str, _doc("IANA time zone of the time-of-day slots", min_length=1, max_length=64)] = (
        "UTC"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(
            self.min_history_bins <= self.history_bins,
            "min_history_bins",
            f"must be <= history_bins ({self.min_history_bins} > {self.history_bins})",
        )
        _require(
            1_440 % self.slot_minutes == 0, "slot_minutes", f"must divide 1440 (got {self.slot_minutes})"
        )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise schemas.FieldValueError("timezone", f"{self.timezone!r} is not an IANA time zone") from None


class PositionParams(_Level, frozen=True, kw_only=True, forbid_unknown_fields=True):
    threshold: Annotated[
        float, _doc("|modified z| of a position change at which the alert fires", gt=0, le=1e6)
    ] = 3.5
    clear: Annotated[float, _doc("|modified z| below which a firing alert resolves", ge=0, le=1e6)] = 3.0
    window: Annotated[int, _doc("position changes kept per fund and symbol", ge=3, le=100_000)] = 250
    min_history: Annotated[int, _doc("position changes needed before scoring", ge=2, le=100_000)] = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.min_history <= self.window, "min_history", f"must be <= window ({self.min_history})")


class _Ratio(AlertParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    clear_ratio: Annotated[
        float, _doc("a firing alert resolves once the breach ratio falls below this", gt=0, le=1)
    ] = 0.9


class PredictiveHealthParams(_Ratio, frozen=True, kw_only=True, forbid_unknown_fields=True):
    alpha: Annotated[float, _doc("1 - coverage of the one-step prediction interval", gt=0, lt=0.5)] = 0.01
    window: Annotated[int, _doc("log NAV returns the model is fitted on", ge=10, le=10_000)] = 250
    min_history: Annotated[int, _doc("returns needed before forecasting", ge=5, le=10_000)] = 30

    def __post_init__(self) -> None:
        _require(self.min_history <= self.window, "min_history", f"must be <= window ({self.min_history})")


class DriftParams(AlertParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    k: Annotated[float, _doc("CUSUM reference value (allowance), in IC standard deviations", ge=0, le=10)] = (
        0.5
    )
    h: Annotated[float, _doc("CUSUM decision interval, in IC standard deviations", gt=0, le=100)] = 5.0
    ph_delta: Annotated[float, _doc("Page-Hinkley tolerance", ge=0, le=10)] = 0.5
    ph_lambda: Annotated[float, _doc("Page-Hinkley threshold", gt=0, le=1_000)] = 5.0
    reference_days: Annotated[
        int, _doc("first days of IC that set its mean and deviation", ge=2, le=10_000)
    ] = 20
    window_days: Annotated[int, _doc("days of IC kept and monitored", ge=3, le=10_000)] = 120
    ir_window: Annotated[int, _doc("days in the rolling IC/IR", ge=2, le=10_000)] = 20
    min_symbols: Annotated[int, _doc("symbols a day needs for its cross-sectional IC", ge=3, le=100_000)] = 5
    bar_interval: Annotated[
        subjects.BarInterval,
        _doc("bars giving the forward returns (the input subscription changes at the next start)"),
    ] = "1d"

    def __post_init__(self) -> None:
        _require(
            self.reference_days < self.window_days,
            "reference_days",
            f"must be < window_days ({self.reference_days} >= {self.window_days})",
        )


class StrategyParams(_Ratio, frozen=True, kw_only=True, forbid_unknown_fields=True):
    alpha: Annotated[float, _doc("1 - coverage of the P&L prediction interval", gt=0, lt=0.5)] = 0.01
    window: Annotated[int, _doc("P&L changes kept per strategy", ge=3, le=100_000)] = 250
    min_history: Annotated[int, _doc("P&L changes needed before testing", ge=3, le=100_000)] = 20
    inhibited_by: Annotated[
        list[_Pattern],
        _doc(
            "dependencies (fnmatch patterns; {subject} is the strategy id) whose outage mutes this watchdog",
            max_length=64,
        ),
    ] = msgspec.field(default_factory=lambda: ["oms", "marketdata"])

    def __post_init__(self) -> None:
        _require(self.min_history <= self.window, "min_history", f"must be <= window ({self.min_history})")


class ThetaParams(_Ratio, frozen=True, kw_only=True, forbid_unknown_fields=True):
    limit: Annotated[float, _doc("largest |net theta| per calendar day, in account currency", gt=0)] = (
        25_000.0
    )
    fund_limits: Annotated[
        dict[_Token, Annotated[float, msgspec.Meta(gt=0)]], _doc("per-fund limits overriding limit")
    ] = {}

    def limit_for(self, fund_id: str) -> float:
        return self.fund_limits.get(fund_id, self.limit)


_Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2048)]


class DependencyParams(AlertParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    failure_threshold: Annotated[
        int, _doc("failed probes in a row that mark an upstream down", ge=1, le=1_000)
    ] = 3
    success_threshold: Annotated[int, _doc("good probes in a row that mark it up again", ge=1, le=1_000)] = 1
    timeout: Annotated[float, _doc("seconds a probe may take", gt=0, le=60)] = 2.0
    interval: Annotated[float, _doc("seconds between probe rounds", ge=0.05, le=86_400)] = 5.0
    upstreams: Annotated[
        dict[_Token, _Url],
        _doc("name -> health URL (GET; 2xx is healthy); defaults from MTS_WATCHDOG_UPSTREAMS"),
    ] = {}

    def __post_init__(self) -> None:
        for name, url in self.upstreams.items():
            parts = urlsplit(url)
            _require(
                parts.scheme in ("http", "https") and bool(parts.hostname),
                f"upstreams.{name}",
                f"must be an http:// or https:// URL (got {url!r})",
            )


class DbParams(AlertParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    interval: Annotated[float, _doc("seconds between checks", ge=0.05, le=86_400)] = 30.0
    max_outbox_age_seconds: Annotated[
        float, _doc("seconds the oldest outbox event of a source may wait", gt=0)
    ] = 60.0
    max_outbox_backlog: Annotated[
        _Count | None, _doc("unpublished events a source may hold (null: no limit)")
    ] = None
    long_running_seconds: Annotated[
        float, _doc("seconds a statement may run or a transaction stay open", gt=0)
    ] = 300.0
    slow_query_mean_ms: Annotated[float, _doc("mean ms per call (pg_stat_statements) that is slow", gt=0)] = (
        1_000.0
    )
    slow_query_min_calls: Annotated[int, _doc("calls before a statement's mean counts", ge=1)] = 5
    max_checkpoint_lag: Annotated[
        _Count | None, _doc("audit entries allowed past the latest signed checkpoint (null: no limit)")
    ] = None
    inhibited_by: Annotated[
        list[_Pattern],
        _doc("dependencies (fnmatch patterns) whose outage mutes this watchdog", max_length=64),
    ] = msgspec.field(default_factory=lambda: ["postgres"])


Estimator = Literal["close_to_close", "parkinson", "garman_klass", "yang_zhang"]


class VolDdParams(_Ratio, frozen=True, kw_only=True, forbid_unknown_fields=True):
    vol_multiple: Annotated[
        float, _doc("fire when realized vol > vol_multiple x the fund's target", gt=0, le=100)
    ] = 1.5
    vol_target: Annotated[float, _doc("annualised target for funds without vol_target", gt=0, le=10)] = 0.12
    drawdown_limit: Annotated[
        float, _doc("drawdown from peak NAV (fraction) for funds without drawdown_limit", gt=0, le=1)
    ] = 0.10
    estimator: Annotated[Estimator, _doc("realized volatility estimator")] = "close_to_close"
    bar_seconds: Annotated[int, _doc("length of the NAV bars", ge=1, le=7 * 86_400)] = 86_400
    window: Annotated[int, _doc("bars in the volatility estimate", ge=2, le=10_000)] = 20
    periods_per_year: Annotated[float, _doc("bars per year, to annualise", gt=0)] = 252.0
    drawdown_bars: Annotated[int, _doc("bars of NAV history the running peak is taken over", ge=2)] = 252

    def __post_init__(self) -> None:
        _require(
            self.window <= self.drawdown_bars,
            "window",
            f"must be <= drawdown_bars ({self.window} > {self.drawdown_bars})",
        )


Params = (
    VpinParams
    | NewsParams
    | PositionParams
    | PredictiveHealthParams
    | DriftParams
    | StrategyParams
    | ThetaParams
    | DependencyParams
    | DbParams
    | VolDdParams
)

PARAMS_TYPES: Final[Mapping[str, type[AlertParams]]] = {
    "predictive_health": PredictiveHealthParams,
    "drift_monitor": DriftParams,
    "vpin": VpinParams,
    "news_spike": NewsParams,
    "position_anomaly": PositionParams,
    "db_watchdog": DbParams,
    "strategy_watchdog": StrategyParams,
    "theta_watchdog": ThetaParams,
    "dependency_watchdog": DependencyParams,
    "portfolio_vol_dd": VolDdParams,
}

_UPSTREAM_ITEM = re.compile(r"^\s*(?P<name>[^=\s]+)\s*=\s*(?P<url>\S+)\s*$")


def parse_upstreams(raw: str | None) -> dict[str, str]:
    """``"oms=http://h:1/v1/healthz;halt=http://h:2/v1/healthz"`` -> {name: url}.

    A malformed item raises ValueError naming the variable and the item.
    """
    out: dict[str, str] = {}
    for item in (raw or "").split(";"):
        if not item.strip():
            continue
        match = _UPSTREAM_ITEM.match(item)
        if match is None:
            raise ValueError(f"{UPSTREAMS_VARIABLE}: {item.strip()!r} is not name=url")
        name, url = match["name"], match["url"]
        try:
            subjects.token_of("name", name)
        except ValueError as exc:
            raise ValueError(f"{UPSTREAMS_VARIABLE}: upstream {exc}") from None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{UPSTREAMS_VARIABLE}: {name}={url!r} is not an http:// or https:// URL")
        if name in out:
            raise ValueError(f"{UPSTREAMS_VARIABLE}: upstream {name!r} is listed twice")
        out[name] = url
    return out


def default_params(name: str, env: Mapping[str, str] | None = None) -> AlertParams:
    """The defaults of watchdog ``name``; the dependency watchdog's upstreams come from the environment."""
    params_type = PARAMS_TYPES[check_name(name)]
    if params_type is DependencyParams:
        env = os.environ if env is None else env
        return DependencyParams(upstreams=parse_upstreams(env.get(UPSTREAMS_VARIABLE)))
    return params_type()


_KEY_ERROR: Final = re.compile(r"^(?P<problem>.*) - at `key` in `\$\.?(?P<field>[^`]*)`$", re.DOTALL)


def _convert(name: str, raw: Mapping[str, Any], params_type: type[P]) -> P:
    try:
        return schemas.convert(dict(raw), params_type)
    except schemas.SchemaError as exc:
        field, problem = exc.path.removeprefix("$").removeprefix("."), exc.problem
        if not field and (bad_key := _KEY_ERROR.match(problem)):
            field = bad_key["field"]
            problem = "every key must be a single subject token (1-128 of letters, digits and _-:=@^~)"
        raise ConfigError(name, field, problem) from None


def effective_params(
    name: str, overrides: Mapping[str, Any], defaults: AlertParams | None = None
) -> AlertParams:
    """The defaults of ``name`` with ``overrides`` laid over them, validated as a whole."""
    base = defaults if defaults is not None else default_params(name)
    merged = {**msgspec.to_builtins(base), **overrides}
    return _convert(name, merged, type(base))


def merge_overrides(
    name: str, current: Mapping[str, Any], changes: Mapping[str, Any], defaults: AlertParams | None = None
) -> tuple[dict[str, Any], AlertParams]:
    """Apply a partial update (``None`` resets a parameter to its default); returns (overrides, effective).

    Unknown parameters and out-of-range values raise :class:`ConfigError` naming the parameter.
    """
    base = defaults if defaults is not None else default_params(name)
    known = {f.encode_name for f in msgspec.structs.fields(type(base))}
    for key in changes:
        if key not in known:
            raise ConfigError(
                name, key, f"is not a parameter of {name} (parameters: {', '.join(sorted(known))})"
            )
    overrides = {k: v for k, v in current.items() if k in known}
    for key, value in changes.items():
        if value is None:
            overrides.pop(key, None)
        else:
            overrides[key] = value
    params = effective_params(name, overrides, base)
    # Store the validated (normalised) values: 5 given for a float parameter is kept as 5.0.
    normalised = msgspec.to_builtins(params)
    return {key: normalised[key] for key in overrides}, params


@dataclass(frozen=True, slots=True)
class ParameterDoc:
    name: str
    type: str
    default: Any
    description: str


def parameter_docs(name: str) -> list[ParameterDoc]:
    """One line per parameter of ``name``: type, default, description (for docs and --help)."""
    params_type = PARAMS_TYPES[check_name(name)]
    defaults = msgspec.to_builtins(params_type())
    docs: list[ParameterDoc] = []
    for field in msgspec.structs.fields(params_type):
        description = ""
        for meta in getattr(field.type, "__metadata__", ()):
            if isinstance(meta, msgspec.Meta) and meta.description:
                description = meta.description
        docs.append(
            ParameterDoc(field.encode_name, _type_name(field.type), defaults[field.encode_name], description)
        )
    return docs


def _type_name(tp: Any) -> str:
    """``float``, ``int | null``, ``list[str]``, ``'a' | 'b'`` ... for the docs."""
    if getattr(tp, "__metadata__", None) is not None:
        return _type_name(get_args(tp)[0])
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, UnionType):
        return " | ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    return getattr(tp, "__name__", None) or str(tp)
