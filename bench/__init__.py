"""Load benchmarks: `make bench` runs Byline against a minimal ASGI baseline in the same run."""
