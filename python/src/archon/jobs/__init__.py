"""Durable background jobs on a Postgres-backed queue (procrastinate)."""
