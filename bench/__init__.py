"""Benchmarks beside redis_exporter: run each from the repository root as `python -m bench.NAME`."""
