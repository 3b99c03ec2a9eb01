"""`python -m mts1b_operations.halt` runs the mts1b-halt service."""

from mts1b_operations.core.runtime import run_service

from .bootstrap import service_spec

if __name__ == "__main__":
    raise SystemExit(run_service(service_spec()))
