"""The audit chain's adapters: Postgres (the SQL of the chain) and the group committer."""
