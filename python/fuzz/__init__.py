"""Parser fuzzing (scorecard S7): seeds, mutators, the sandboxed corpus runner and the atheris harness."""
