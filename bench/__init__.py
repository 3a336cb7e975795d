"""Benchmarks for the numbers in the product brief; `make bench` runs them all."""
