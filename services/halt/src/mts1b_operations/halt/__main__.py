"""`python -m mts1b_operations.halt` runs the mts1b-halt service."""

from mts1b_operations.core.runtime import serve_and_exit

from .bootstrap import service_spec

if __name__ == "__main__":
    serve_and_exit(service_spec())
