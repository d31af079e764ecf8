"""Knowledge: sources, pages, chunks, code examples, embeddings and search."""
