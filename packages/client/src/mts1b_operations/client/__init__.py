"""mts1b-operations client."""
