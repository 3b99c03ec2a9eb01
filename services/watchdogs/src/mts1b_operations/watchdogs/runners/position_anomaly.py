"""position_anomaly: unusual position changes per fund and symbol (``mts.v1.portfolio.position.*``).

Every position update whose quantity differs from the previous one is a change Δ. The change is
scored against the fund-and-symbol's past changes (the last ``window``) with the modified z-score
0.6745 (Δ - median)/MAD (:func:`maths.position_anomaly.modified_zscore_against`, with its MAD = 0
fallback) once ``min_history`` changes exist, and |z| is evaluated against ``threshold`` /
``clear``. Updates that leave the quantity unchanged (price moves) are not changes. The subject
is ``<fund_id>:<symbol>``, or ``<fund_id>:<strategy_id>:<symbol>`` for a strategy's own position:
two strategies of one fund holding one symbol are two positions, and mixing their snapshots would
score the jump from one strategy's quantity to the other's as a change.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from mts1b_operations.core import subjects
from mts1b_operations.core.bus import Delivery
from mts1b_operations.core.schemas import Position, decode

from ..alerting import Evaluation, level_evaluation
from ..config import PositionParams
from ..maths.position_anomaly import modified_zscore_against
from ..store import StoredState
from ._base import Runner, RunnerEnv, Subscription

__all__ = ["PositionRunner"]


@dataclass(slots=True)
class _Holding:
    quantity: float
    changes: deque[float] = field(default_factory=deque)


class PositionRunner(Runner[PositionParams]):
    name = "position_anomaly"

    def __init__(self, env: RunnerEnv, params: PositionParams, state: StoredState | None = None) -> None:
        super().__init__(env, params, state)
        self.holdings: dict[str, _Holding] = {}

    def subscriptions(self) -> Sequence[Subscription]:
        return (Subscription("PORTFOLIO", (f"{subjects.PREFIX}.portfolio.position.*",), self.on_position),)

    def reconfigured(self, old: PositionParams, new: PositionParams) -> None:
        if new.window < old.window:
            for holding in self.holdings.values():
                while len(holding.changes) > new.window:
                    holding.changes.popleft()

    async def on_position(self, delivery: Delivery) -> None:
        position = decode(delivery.data, Position)
        if self.fresh(delivery):
            evaluation = self.ingest(position)
            if evaluation is not None:
                self.queue([evaluation])
        await self.publish_or_retry()

    def ingest(self, position: Position) -> Evaluation | None:
        params = self.params
        fund, strategy = position.fund_id, position.strategy_id
        owner = fund if strategy is None else f"{fund}:{strategy}"
        subject = f"{owner}:{position.symbol}"
        holding = self.holdings.get(subject)
        if holding is None:
            self.holdings[subject] = _Holding(position.quantity)
            return None
        change = position.quantity - holding.quantity
        holding.quantity = position.quantity
        if change == 0:
            return None
        history = holding.changes
        evaluation = None
        if len(history) >= params.min_history:
            z = float(modified_zscore_against(list(history), [change])[0])
            size = abs(z)
            shown = f"{z:+.2f}" if math.isfinite(z) else ("+inf" if z > 0 else "-inf")
            evaluation = level_evaluation(
                subject,
                size,
                threshold=params.threshold,
                clear=params.clear,
                message=(
                    f"position of {position.symbol} in {position.fund_id} changed by {change:+g} to "
                    f"{position.quantity:g}: modified z {shown} against its last {len(history)} changes "
                    f"(alert at |z| >= {params.threshold:g}, clears below {params.clear:g})"
                ),
                window_start=position.ts,
                window_end=position.ts,
            )
        history.append(change)
        while len(history) > params.window:
            history.popleft()
        return evaluation
