"""End-to-end tests across services and the devstack (real processes, Postgres and NATS)."""
