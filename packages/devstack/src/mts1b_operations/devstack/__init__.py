"""mts1b-operations devstack."""
