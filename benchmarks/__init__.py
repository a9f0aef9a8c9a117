"""Benchmarks: one script per figure (``python -m benchmarks.<name>``), figures in ``RESULTS.md``."""
