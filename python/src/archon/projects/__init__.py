"""Projects, tasks, project documents and their versions."""
