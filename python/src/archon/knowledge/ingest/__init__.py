"""Ingestion: cleaning, chunking, code-example extraction, file conversion and the page pipeline."""
