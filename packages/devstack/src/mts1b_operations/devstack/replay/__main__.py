"""``python -m mts1b_operations.devstack.replay``: the market replay as a process of its own.

Examples::

    python -m mts1b_operations.devstack.replay --scenario flash-crash --seed 7
    python -m mts1b_operations.devstack.replay --file trades.parquet --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from mts1b_operations.core.bus import DEFAULT_STREAMS
from mts1b_operations.core.settings import SettingsError, load_client_settings
from mts1b_operations.core.subjects import InvalidSubjectTokenError, token_of

from .._sim_runtime import configure_logging, connect_until_stopped, run_until_stopped
from .file_source import TradeFileError, read_trades
from .generator import DEFAULT_SYMBOLS
from .runner import SyntheticOptions, run_file, run_synthetic
from .scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES, get_scenario

NAME = "mts-replay"


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _symbols(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("at least one symbol is required")
    try:
        for name in names:
            token_of("symbol", name)
    except InvalidSubjectTokenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mts1b_operations.devstack.replay",
        description="Publish synthetic (or recorded) market data to NATS JetStream.",
    )
    p.add_argument("--scenario", choices=SCENARIO_NAMES, default=DEFAULT_SCENARIO, help="market scenario")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same market)")
    p.add_argument("--file", type=Path, help="replay the trades of this CSV or parquet file instead")
    p.add_argument("--symbols", type=_symbols, default=DEFAULT_SYMBOLS, help="comma-separated universe")
    p.add_argument("--speed", type=_positive, default=1.0, help="market seconds per wall-clock second")
    p.add_argument("--rate", type=_positive, help="at most this many messages per second")
    p.add_argument("--history-days", type=int, default=60, help="daily bars published at start")
    p.add_argument("--nats-url", help="NATS server(s); default MTS_NATS_URL")
    p.add_argument("--keep-running", action="store_true", help="after a --file replay, wait for SIGTERM")
    p.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process goes")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.seed < 0:
        parser().error("--seed: must be a non-negative integer")
    if args.history_days < 0:
        parser().error("--history-days: must be >= 0")
    try:
        nats_url = load_client_settings({"MTS_NATS_URL": args.nats_url} if args.nats_url else None).nats_url
    except SettingsError as exc:
        where = "--nats-url" if args.nats_url else exc.variable
        print(f"{NAME}: configuration error: {where}: {exc.problem}", file=sys.stderr)
        return 2
    if args.file is not None:
        try:
            read_trades(args.file)  # a bad file stops here, before anything is published
        except TradeFileError as exc:
            print(f"{NAME}: --file: {exc}", file=sys.stderr)
            return 2
    configure_logging(args.verbose)

    async def play(stop: asyncio.Event) -> None:
        bus = await connect_until_stopped(nats_url, name=NAME, stop=stop)
        if bus is None:
            return
        try:
            await bus.ensure_streams(DEFAULT_STREAMS)
            if args.file is not None:
                await run_file(bus, args.file, stop, rate=args.rate)
                if args.keep_running:
                    await stop.wait()
            else:
                options = SyntheticOptions(
                    scenario=get_scenario(args.scenario),
                    seed=args.seed,
                    symbols=args.symbols,
                    speed=args.speed,
                    rate=args.rate,
                    history_days=args.history_days,
                )
                await run_synthetic(bus, options, stop)
        finally:
            await bus.close()

    return asyncio.run(run_until_stopped(play, name=NAME, exit_with_parent=args.exit_with_parent))


if __name__ == "__main__":
    raise SystemExit(main())
