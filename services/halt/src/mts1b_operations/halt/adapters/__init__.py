"""Postgres (the truth) and the NATS KV mirror of the halts in force."""
