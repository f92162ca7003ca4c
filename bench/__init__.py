"""Benchmarks and the benchmark harness (`python -m bench` / `awrs bench`)."""
