"""Benchmarks of alexnet_tf against peers measured in the same run."""
