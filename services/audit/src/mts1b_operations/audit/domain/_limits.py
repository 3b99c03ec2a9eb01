"""The documented limits of the audit chain's input, in one place.

Every limit is enforced before anything is written, and every refusal names the field.
"""

from __future__ import annotations

__all__ = [
    "MAX_ACTION_CHARS",
    "MAX_ACTOR_CHARS",
    "MAX_DATA_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_NOTE_SIGNATURES",
    "MAX_SAFE_INTEGER",
    "MAX_SUBJECT_ID_CHARS",
]

MAX_DATA_BYTES = 64 * 1024
"""Largest canonical JSON encoding of an entry's ``data`` object, in bytes (64 KiB)."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and arrays accepted in ``data`` (the ``data`` object itself is depth 1)."""

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude accepted: JCS (RFC 8785) numbers are IEEE 754 doubles, which hold
every integer up to 2**53 - 1 exactly and no larger one reliably, so larger integers are refused
rather than silently rounded. Send them as strings."""

MAX_ACTOR_CHARS = 200
"""Longest ``actor`` (characters), e.g. ``"mts1b-oms"`` or ``"operator:alice"``."""

MAX_ACTION_CHARS = 200
"""Longest ``action`` (characters), e.g. ``"order_rejected"``."""

MAX_SUBJECT_ID_CHARS = 256
"""Longest ``subject_id`` (characters); it may be empty when an entry is about no one thing."""

MAX_NOTE_SIGNATURES = 100
"""Most signature lines read from one signed note (C2SP asks verifiers for a limit of at least 16)."""
