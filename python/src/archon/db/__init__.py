"""Database access: connection pool, embedded server, migrations, self-check."""
