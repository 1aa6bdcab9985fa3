"""Benchmark suites that combine data, training and evaluation into the claims table."""

from vantage.bench.runner import SUITES, BenchContext, default_coil20, machine_info, run_bench

__all__ = ["SUITES", "BenchContext", "default_coil20", "machine_info", "run_bench"]
