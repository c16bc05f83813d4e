"""Benchmarks, run by hand (``python -m bench.<name>``); none runs in CI. See bench/RESULTS.md."""
