"""The mts1b-marketdata service."""
