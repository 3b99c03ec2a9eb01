"""Registered operators for a test, and their bearer tokens."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from mts1b_operations.core.operators import Role, add_operator

__all__ = ["register_operators"]


async def register_operators(
    pool: asyncpg.Pool, roles: Mapping[str, Role], *, created_by: str = "test"
) -> dict[str, str]:
    """Register each ``name: role`` of ``roles`` (in order); returns each name's bearer token."""
    tokens: dict[str, str] = {}
    for name, role in roles.items():
        _, tokens[name] = await add_operator(pool, name, role, created_by=created_by)
    return tokens
