"""`python -m mts1b_operations.compliance` runs the mts1b-compliance service."""

from mts1b_operations.core.runtime import run_service

from .bootstrap import service_spec

if __name__ == "__main__":
    raise SystemExit(run_service(service_spec()))
