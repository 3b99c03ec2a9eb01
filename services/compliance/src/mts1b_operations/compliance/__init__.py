"""The mts1b-compliance service."""
