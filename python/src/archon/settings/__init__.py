"""Runtime settings and encrypted credentials."""
