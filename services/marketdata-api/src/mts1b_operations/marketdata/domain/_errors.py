"""What the market-data domain refuses: a bad request parameter, or a symbol it knows nothing of."""

from __future__ import annotations

__all__ = ["InvalidParameterError", "MarketDataError", "UnknownSymbolError"]


class MarketDataError(Exception):
    """Base of the market-data service's own errors."""


class InvalidParameterError(MarketDataError, ValueError):
    """A request parameter is malformed or out of range; ``parameter`` names it (HTTP 400)."""

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class UnknownSymbolError(MarketDataError, LookupError):
    """No data at all for ``symbol`` (HTTP 404); ``what`` says which data was asked for."""

    def __init__(self, symbol: str, what: str) -> None:
        self.symbol = symbol
        self.what = what
        super().__init__(f"no {what} for symbol {symbol!r}")

    def __str__(self) -> str:
        return f"no {self.what} for symbol {self.symbol!r}"
