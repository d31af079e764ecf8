"""Local sources: server-side folders and git repositories indexed like crawled sites."""
