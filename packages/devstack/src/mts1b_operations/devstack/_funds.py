"""The funds registry file for the local stack: a copy of core's example."""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["HALT_POLICY_WITH_PAPER_OMS", "ensure_funds_file", "ensure_halt_policy", "example_funds_file"]


def example_funds_file() -> Path:
    resource = files("mts1b_operations.core").joinpath("data", "funds.example.yaml")
    with as_file(resource) as path:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: core's example funds registry is not installed")
        return Path(path)


def ensure_funds_file(path: Path) -> bool:
    """Copy the example registry to ``path`` unless a file is there; True when copied.

    An existing file is left alone: an operator may have edited it.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.copyfile(example_funds_file(), tmp)
    tmp.replace(path)
    return True


HALT_POLICY_WITH_PAPER_OMS = """\
# Written by `mts dev up`: the default auto-halt rules, and the paper OMS must ack every
# cancel_all / flatten (a silent one is then named as missing instead of waited for).
oms:
  expected_responders: [paper-oms]
  ack_timeout: 5.0
"""


def ensure_halt_policy(path: Path) -> bool:
    """Write the dev stack's halt policy to ``path`` unless a file is there; True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(HALT_POLICY_WITH_PAPER_OMS)
    tmp.replace(path)
    return True
