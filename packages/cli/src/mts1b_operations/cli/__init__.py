"""mts1b-operations cli."""
