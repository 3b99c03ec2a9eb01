"""The mts1b-audit service."""
