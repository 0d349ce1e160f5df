"""Benchmarks of vzgitops on the simulated node (`make bench`; not part of `make test`)."""
