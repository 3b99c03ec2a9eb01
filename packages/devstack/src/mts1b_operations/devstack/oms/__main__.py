"""``python -m mts1b_operations.devstack.oms``: the paper OMS as a process of its own.

It trades the paper funds of the registry (MTS_FUNDS_FILE, or --funds-file; core's example when
neither is given) on the market data it hears on NATS (MTS_NATS_URL). Example::

    MTS_NATS_URL=nats://127.0.0.1:14222 python -m mts1b_operations.devstack.oms --responder paper-oms
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mts1b_operations.core.funds import EXAMPLE_FUNDS_FILE, FundsError, load_funds
from mts1b_operations.core.settings import SettingsError, load_client_settings

from .._sim_runtime import configure_logging, connect_until_stopped, run_until_stopped
from .book import DEFAULT_CAPITAL
from .runner import DEFAULT_RESPONDER, OmsOptions, PaperOms

NAME = "mts-paper-oms"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mts1b_operations.devstack.oms",
        description="A paper order management system trading the registry's paper funds.",
    )
    p.add_argument("--funds-file", type=Path, help="funds registry YAML; default MTS_FUNDS_FILE")
    p.add_argument("--nats-url", help="NATS server(s); default MTS_NATS_URL")
    p.add_argument("--responder", default=DEFAULT_RESPONDER, help="id in the acks of OMS commands")
    p.add_argument("--seed", type=int, default=0, help="random seed of the order generator")
    p.add_argument("--tick-interval", type=_positive, default=1.0, help="seconds between generator ticks")
    p.add_argument("--snapshot-interval", type=_positive, default=2.0, help="seconds between snapshots")
    p.add_argument("--capital", type=_positive, default=DEFAULT_CAPITAL, help="starting NAV of each fund")
    p.add_argument("--max-position", type=int, default=500, help="largest position per strategy and symbol")
    p.add_argument("--order-ttl", type=_positive, default=10.0, help="seconds a limit order may rest")
    p.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process goes")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.max_position < 10:
        parser().error("--max-position: must be at least 10 (one lot)")
    try:
        nats_url = load_client_settings({"MTS_NATS_URL": args.nats_url} if args.nats_url else None).nats_url
    except SettingsError as exc:
        where = "--nats-url" if args.nats_url else exc.variable
        print(f"{NAME}: configuration error: {where}: {exc.problem}", file=sys.stderr)
        return 2
    funds_file = args.funds_file or Path(os.environ.get("MTS_FUNDS_FILE", "").strip() or EXAMPLE_FUNDS_FILE)
    try:
        registry = load_funds(funds_file)
    except FundsError as exc:
        print(f"{NAME}: funds registry: {exc}", file=sys.stderr)
        return 2
    if not registry.paper_funds():
        print(f"{NAME}: funds registry: {funds_file} has no paper fund to trade", file=sys.stderr)
        return 2
    try:
        options = OmsOptions(
            responder=args.responder,
            seed=args.seed,
            tick_interval=args.tick_interval,
            snapshot_interval=args.snapshot_interval,
            capital=args.capital,
            max_position=args.max_position,
            order_ttl=args.order_ttl,
        )
    except ValueError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.verbose)

    async def trade(stop: asyncio.Event) -> None:
        bus = await connect_until_stopped(nats_url, name=NAME, stop=stop)
        if bus is None:
            return
        try:
            await PaperOms(bus, registry.paper_funds(), options).run(stop)
        finally:
            await bus.close()

    return asyncio.run(run_until_stopped(trade, name=NAME, exit_with_parent=args.exit_with_parent))


if __name__ == "__main__":
    raise SystemExit(main())
