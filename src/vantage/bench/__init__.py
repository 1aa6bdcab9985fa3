"""Benchmark suites: method plug-ins, the run grid they share, and the runner that loops over them."""

from vantage.bench.context import BenchContext, default_coil20, resolve_dataset
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, GridResult, Trained, Variant, cached_evaluation, run_grid
from vantage.bench.plugin import METHODS, MethodPlugin, Settings, register_method
from vantage.bench.report_card import Encoder, report_cards, resolve_encoder
from vantage.bench.runner import (
    check_bench_config,
    get_method,
    machine_info,
    method_settings,
    render_report,
    report_sections,
    run_bench,
)

__all__ = [
    "METHODS",
    "BenchContext",
    "Claim",
    "Encoder",
    "Evaluation",
    "GridResult",
    "MethodPlugin",
    "Settings",
    "Trained",
    "Variant",
    "cached_evaluation",
    "check_bench_config",
    "default_coil20",
    "get_method",
    "machine_info",
    "method_settings",
    "register_method",
    "render_report",
    "report_cards",
    "report_sections",
    "resolve_dataset",
    "resolve_encoder",
    "run_bench",
    "run_grid",
]
