"""Benchmarks: `python -m bench [name ...] [--scale SF]` prints each benchmark's figures."""
