"""The mts1b-halt service."""
