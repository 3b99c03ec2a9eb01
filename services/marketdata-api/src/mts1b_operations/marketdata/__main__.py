"""`python -m mts1b_operations.marketdata` runs the mts1b-marketdata-api service."""

from mts1b_operations.core.runtime import run_service

from .bootstrap import service_spec

if __name__ == "__main__":
    raise SystemExit(run_service(service_spec()))
