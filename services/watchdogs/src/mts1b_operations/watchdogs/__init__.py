"""The mts1b-watchdogs service."""
