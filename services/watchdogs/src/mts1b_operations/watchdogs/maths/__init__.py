"""The watchdogs' maths: pure functions on polars frames, numpy arrays and floats, no I/O.

One module per watchdog, each citing its method and stating its conventions in its docstring:
:mod:`.vpin`, :mod:`.theta`, :mod:`.portfolio_vol_dd`, :mod:`.position_anomaly`,
:mod:`.news_spike`, :mod:`.predictive_health`, :mod:`.drift_monitor`, :mod:`.strategy_pnl`,
:mod:`.dependency` and :mod:`.db_checks`. Bad input raises ``ValueError`` naming the argument.
"""

from mts1b_operations.watchdogs.maths import (
    db_checks,
    dependency,
    drift_monitor,
    news_spike,
    portfolio_vol_dd,
    position_anomaly,
    predictive_health,
    strategy_pnl,
    theta,
    vpin,
)
from mts1b_operations.watchdogs.maths.db_checks import (
    ActivityStats,
    ChainStats,
    DbThresholds,
    Finding,
    OutboxStats,
    StatementStats,
)
from mts1b_operations.watchdogs.maths.dependency import HealthState, HealthTracker
from mts1b_operations.watchdogs.maths.drift_monitor import (
    cusum,
    daily_ic,
    page_hinkley,
    rolling_ic_ir,
    standardise,
)
from mts1b_operations.watchdogs.maths.news_spike import (
    SpikeCheck,
    check_spike,
    poisson_tail,
    poisson_threshold,
    robust_z,
    time_of_day_baseline,
)
from mts1b_operations.watchdogs.maths.portfolio_vol_dd import (
    current_drawdown,
    drawdown_series,
    max_drawdown,
    realized_vol,
)
from mts1b_operations.watchdogs.maths.position_anomaly import modified_zscore, modified_zscore_against
from mts1b_operations.watchdogs.maths.predictive_health import forecast_interval, log_returns
from mts1b_operations.watchdogs.maths.strategy_pnl import prediction_interval
from mts1b_operations.watchdogs.maths.theta import bs_theta, fund_theta
from mts1b_operations.watchdogs.maths.vpin import bar_sigma, compute_vpin, vpin_cdf

__all__ = [
    "ActivityStats",
    "ChainStats",
    "DbThresholds",
    "Finding",
    "HealthState",
    "HealthTracker",
    "OutboxStats",
    "SpikeCheck",
    "StatementStats",
    "bar_sigma",
    "bs_theta",
    "check_spike",
    "compute_vpin",
    "current_drawdown",
    "cusum",
    "daily_ic",
    "db_checks",
    "dependency",
    "drawdown_series",
    "drift_monitor",
    "forecast_interval",
    "fund_theta",
    "log_returns",
    "max_drawdown",
    "modified_zscore",
    "modified_zscore_against",
    "news_spike",
    "page_hinkley",
    "poisson_tail",
    "poisson_threshold",
    "portfolio_vol_dd",
    "position_anomaly",
    "prediction_interval",
    "predictive_health",
    "realized_vol",
    "robust_z",
    "rolling_ic_ir",
    "standardise",
    "strategy_pnl",
    "theta",
    "time_of_day_baseline",
    "vpin",
    "vpin_cdf",
]
