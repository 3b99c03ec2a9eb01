"""Where the workspace's shared reference data (../shared/reference, read-only) is found."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["REFERENCE_DIR_ENV", "reference_file"]

REFERENCE_DIR_ENV: Final = "MTS_REFERENCE_DIR"
_MACHINE_REFERENCE: Final = Path("/work/shared/reference")


def _candidates() -> list[Path]:
    if override := os.environ.get(REFERENCE_DIR_ENV, "").strip():
        return [Path(override)]
    # ../shared/reference beside the checkout (any ancestor: tests may run from a nested clone),
    # then the machine's copy, so a clone made elsewhere (as CI's) finds it too.
    here = Path(__file__).resolve()
    return [parent / "shared" / "reference" for parent in here.parents] + [_MACHINE_REFERENCE]


def reference_file(*parts: str) -> Path:
    """The path of ``parts`` under the shared reference directory; a clear error when absent.

    ``MTS_REFERENCE_DIR`` overrides the search (the checkout's ``../shared/reference``, then
    ``/work/shared/reference``).
    """
    for base in _candidates():
        path = base.joinpath(*parts)
        if path.is_file():
            return path
    searched = ", ".join(str(base) for base in _candidates())
    raise FileNotFoundError(
        f"reference file {'/'.join(parts)} not found under {searched}; set {REFERENCE_DIR_ENV}"
    )
