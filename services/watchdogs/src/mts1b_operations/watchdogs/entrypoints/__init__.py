"""How the outside reaches the watchdogs: the HTTP API and the live control of their configuration."""
