"""Serves the built dashboard (archon-ui-main/dist) on FRONTEND_PORT, with the SPA fallback and CSP."""
