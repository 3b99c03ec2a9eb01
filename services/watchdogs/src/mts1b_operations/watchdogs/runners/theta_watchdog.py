# ruff: noqa: RUF002, RUF003  (maths notation: −, σ, Φ, Σ, ×, – are meant)
"""theta_watchdog: a fund's net theta against its limit (``mts.v1.portfolio.greeks.*``).

Each Greeks message is a fund's whole option book. Its net theta is Σ Θ × quantity × multiplier
per calendar day (:func:`maths.theta.fund_theta`, Black–Scholes theta divided by 365), in the
book's currency; the breach ratio |net theta| / limit (the fund's entry of ``fund_limits``,
else ``limit``) fires above 1 and clears below ``clear_ratio``. The subject is the fund id.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import Greeks, decode

from ..alerting import Evaluation, breach_ratio_evaluation
from ..config import ThetaParams
from ..maths.theta import fund_theta
from ._base import Runner, Subscription

__all__ = ["ThetaRunner", "book_frame"]

_SCHEMA = {
    "kind": pl.String,
    "spot": pl.Float64,
    "strike": pl.Float64,
    "rate": pl.Float64,
    "t_years": pl.Float64,
    "vol": pl.Float64,
    "quantity": pl.Float64,
    "multiplier": pl.Float64,
}


def book_frame(greeks: Greeks) -> pl.DataFrame:
    """The option positions of a Greeks message as the frame :func:`fund_theta` takes."""
    rows = [
        (o.kind, o.spot, o.strike, o.rate, o.t_years, o.vol, o.quantity, o.multiplier) for o in greeks.options
    ]
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row")


class ThetaRunner(Runner[ThetaParams]):
    name = "theta_watchdog"

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("PORTFOLIO", (f"{subjects.PREFIX}.portfolio.greeks.*",), self.on_greeks),)

    async def on_greeks(self, delivery: Delivery) -> None:
        greeks = decode(delivery.data, Greeks)
        if self.fresh(delivery):
            self.queue([self.evaluate(greeks)])
        await self.publish_or_retry()

    def evaluate(self, greeks: Greeks) -> Evaluation:
        params = self.params
        theta = fund_theta(book_frame(greeks))
        limit = params.limit_for(greeks.fund_id)
        return breach_ratio_evaluation(
            greeks.fund_id,
            abs(theta) / limit,
            clear_ratio=params.clear_ratio,
            value=theta,
            threshold=limit,
            message=(
                f"net theta of {greeks.fund_id} is {theta:,.2f} per calendar day over "
                f"{len(greeks.options)} option positions (limit ±{limit:,.2f})"
            ),
            window_start=greeks.ts,
            window_end=greeks.ts,
        )
