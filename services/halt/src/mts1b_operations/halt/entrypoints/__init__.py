"""Entry points of mts1b-halt: the HTTP API (http.py) and the watchdog-alerts consumer (consumers.py)."""
