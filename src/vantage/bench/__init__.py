"""Benchmark suites: method plug-ins, the run grid they share, and the runner that loops over them."""

from vantage.bench.commands import command_config, config_options, field_help, method_commands
from vantage.bench.context import BenchContext, default_coil20, resolve_dataset
from vantage.bench.findings import Claim
from vantage.bench.grid import Evaluation, GridResult, Trained, Variant, cached_evaluation, run_grid
from vantage.bench.output import REAL_SET_OPTIONS, parse_real, print_and_save, real_sets, rounded
from vantage.bench.plugin import (
    ENTRY_POINT_GROUP,
    METHODS,
    EvalCommand,
    MethodPlugin,
    Option,
    Settings,
    TrainCommand,
    load_entry_point_methods,
    register_method,
)
from vantage.bench.report_card import Encoder, report_cards, resolve_encoder
from vantage.bench.runner import (
    bench_summary,
    check_bench_config,
    check_preset,
    get_method,
    machine_info,
    method_settings,
    render_report,
    report_sections,
    run_bench,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "METHODS",
    "REAL_SET_OPTIONS",
    "BenchContext",
    "Claim",
    "Encoder",
    "EvalCommand",
    "Evaluation",
    "GridResult",
    "MethodPlugin",
    "Option",
    "Settings",
    "TrainCommand",
    "Trained",
    "Variant",
    "bench_summary",
    "cached_evaluation",
    "check_bench_config",
    "check_preset",
    "command_config",
    "config_options",
    "default_coil20",
    "field_help",
    "get_method",
    "load_entry_point_methods",
    "machine_info",
    "method_commands",
    "method_settings",
    "parse_real",
    "print_and_save",
    "real_sets",
    "register_method",
    "render_report",
    "report_cards",
    "report_sections",
    "resolve_dataset",
    "resolve_encoder",
    "rounded",
    "run_bench",
    "run_grid",
]
