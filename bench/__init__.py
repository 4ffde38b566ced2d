"""Benchmarks: ``python -m bench`` starts what it needs on loopback and prints figures."""
