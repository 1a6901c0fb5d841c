"""The benchmark suite (`make bench`): never part of `make test`."""
