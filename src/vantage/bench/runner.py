"""`vantage bench` and `vantage report`: generic loops over the registered method plug-ins."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import vantage.bench.methods  # noqa: F401  (registers the built-in plug-ins)
from vantage import __version__
from vantage.bench.context import BenchContext, default_coil20
from vantage.bench.grid import display_view
from vantage.bench.plugin import METHODS, PRESET_KEYS, Settings, load_entry_point_methods, method_preset
from vantage.config import ConfigError, set_override
from vantage.io import atomic_write_json, folder_lock
from vantage.report import Figure, Section, Table, Text, markdown_report, write_report

__all__ = [
    "bench_summary",
    "check_bench_config",
    "check_preset",
    "get_method",
    "machine_info",
    "method_settings",
    "render_report",
    "report_sections",
    "run_bench",
]



def check_preset(preset: str) -> None:
    """Refuse a preset with unknown sections or keys before any command works from it (a shipped preset is
    known to be valid and costs nothing)."""
    from vantage.config import preset_names

    if str(preset) not in preset_names():
        load_entry_point_methods()
        method_preset(preset)


def get_method(name: str):
    """The registered plug-in ``name`` (built in, or from a package's entry point); a clear error listing the known
    ones."""
    load_entry_point_methods()
    if name not in METHODS:
        raise ConfigError(f"unknown bench suite {name!r}; available: {sorted(METHODS)}")
    return METHODS[name]


def method_settings(name: str, preset: str | dict[str, Any]) -> Settings:
    """A method's typed settings from a preset name/path (or an already loaded preset dict)."""
    load_entry_point_methods()
    config = method_preset(preset) if isinstance(preset, str) else preset
    return get_method(name).settings(config, f"preset {preset}" if isinstance(preset, str) else "preset")


def _place_training(config: dict[str, Any], names: Sequence[str], fields: dict[str, Any]) -> None:
    """Set ``fields`` (accelerator, devices) in every training part (a config with an ``accelerator`` field) of
    the suites ``names``; neither the accelerator nor which GPUs (only how many) makes a run retrain."""
    if not fields:
        return
    for name in names:
        plugin = METHODS[name]
        for part, cls in plugin.parts.items():
            if plugin.section and "accelerator" in getattr(cls, "__dataclass_fields__", {}):
                section = config[plugin.section] = config.get(plugin.section) or {}
                section[part] = {**(section.get(part) or {}), **fields}


def check_bench_config(config: dict[str, Any], names: Sequence[str], where: str) -> None:
    """Parse every section the chosen suites read (and refuse unknown preset keys), so a bad value fails
    before any suite runs."""
    load_entry_point_methods()
    for name in names:
        get_method(name)
    sections = {m.section for m in METHODS.values() if m.section}
    unknown = sorted(set(config) - sections - set(PRESET_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown preset section(s) {unknown}; known: {sorted(sections | set(PRESET_KEYS))}")
    bench = config.get("bench", {}) or {}
    if set(bench) - {"suites"}:
        raise ConfigError(f"{where}: unknown key(s) {sorted(set(bench) - {'suites'})} in bench; expected ['suites']")
    get_method("data").settings(config, where)
    for name in names:
        METHODS[name].settings(config, where)


def machine_info() -> dict[str, Any]:
    """Facts about the machine and software a result was measured on."""
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "vantage": __version__,
    }


def findings_section(results: dict[str, Any]) -> Section | None:
    """The opening table: every claim of every suite that ran, our effect beside the paper's, and the verdict."""
    rows = []
    for name, res in results.get("suites", {}).items():
        plugin = METHODS.get(name)
        if plugin is None or res.get("error"):
            continue
        rows += [[plugin.name, *row] for row in plugin.findings(res)]
    if not rows:
        return None
    note = (
        "Each claim is a same-seed difference (the variant minus its baseline), mean ± std over the seeds run. "
        "Verdict: yes / no when the effect has the claimed / the opposite sign and exceeds its seed std; "
        "uninformative when the baseline scores within the stated margin of chance on its own, unshifted task (no "
        "layer could show a gain then); one seed has no spread and decides nothing."
    )
    blocks = [Text(note), Table(["suite", "claim", "ours", "paper", "reproduced?"], rows)]
    single = sorted({r[0] for r in rows if "n = 1" in r[2]})
    if single:
        blocks.append(Text(
            f"Not decided here: the claims of {', '.join(single)} ran on one seed, which is what preset "
            f"{results.get('preset', '?')!r} affords (the default preset keeps the whole benchmark under 30 minutes on "
            "a 2-core CPU). Three seeds decide them: `vantage bench --preset repro`, or "
            "`--set <section>.bench.seeds=[0,1,2]` for one suite."))  # fmt: skip
    return Section("Findings", blocks)


def competence_section(results: dict[str, Any]) -> Section | None:
    """Competence first: each suite's baselines on their own, unshifted task (the learning curves' last
    training loss and held-out probes, and the in-distribution score the verdicts rest on) beside chance."""
    from vantage.bench.findings import competence_rows

    rows = []
    for name, res in results.get("suites", {}).items():
        plugin = METHODS.get(name)
        if plugin is not None and not res.get("error"):
            rows += [[name, *row] for row in competence_rows(plugin.claims, res)]
    if not rows:
        return None
    note = ("Has each baseline learned its task? Last training loss and held-out probes of its learning curve "
            "(mean over seeds; the curves are in each suite's section), and the in-distribution score the findings' "
            "verdicts rest on, beside chance.")  # fmt: skip
    head = ["suite", "baseline", "last training loss", "learning-curve probes (last)", "in distribution", "chance"]
    return Section("Competence of the baselines", [Text(note), Table(head, rows)])


def report_sections(results: dict[str, Any], run_dir: Path) -> list[Section]:
    """The findings table, then one report section per suite result, from its plug-in (a failed or unknown
    suite gets a plain one)."""
    load_entry_point_methods()
    sections = [s for s in (findings_section(results), competence_section(results)) if s is not None]
    for name, res in results.get("suites", {}).items():
        plugin = METHODS.get(name)
        if res.get("error"):
            sections.append(Section(plugin.title if plugin else name, [Text(f"failed: {res['error']}", "bad")]))
        elif plugin is None:
            sections.append(Section(name, [Text(json.dumps(res, indent=2))], markdown=False))
        else:
            section = plugin.present(display_view(res), run_dir)
            if res.get("curves", {}).get("plot"):
                section.blocks.append(Figure(res["curves"]["plot"], "Learning curves of the baselines (first seed): "
                                             "training loss and held-out probes against steps"))  # fmt: skip
            if res.get("seconds") is not None:
                section.footer = f"Suite time: {res['seconds']} s."
            sections.append(section)
    return sections


def render_report(run_dir: str | Path) -> tuple[Path, str]:
    """(path of the re-rendered ``report.html``, the Markdown tables) of a bench run folder."""
    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `vantage bench --out {run_dir}` first")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    sections = report_sections(results, run_dir)
    return write_report(run_dir, results, sections), markdown_report(results, sections)


def run_bench(
    preset: str = "default",
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    data_root: str | Path | None = None,
    coil20: str | Path | None = None,
    workers: int | None = None,
    real: dict[str, Path] | None = None,
    progress: bool = True,
    suites: Sequence[str] | None = None,
    overwrite: bool = False,
    device: str = "auto",
) -> tuple[Path, dict[str, Any]]:
    """Run the preset's suites in order; write ``results.json`` and ``report.html`` under ``out``.

    ``overrides`` are ``section.key=value`` assignments over the whole preset (``data.image_size=32``,
    ``ssl.bench.seeds=[0,1,2]``); ``overwrite`` retrains runs in ``out`` whose config changed (else refused);
    ``device`` (auto, cpu, cuda, cuda:N, mps) is where evaluations run and, unless auto, where training runs.
    """
    from vantage.models import lightning_devices, resolve_device

    load_entry_point_methods()
    config = method_preset(preset)
    for o in overrides:
        set_override(config, o)
    names = list(suites or config.get("bench", {}).get("suites", ["data"]))
    check_bench_config(config, names, f"preset {preset}")
    eval_device = resolve_device(device)
    _place_training(config, names, lightning_devices(device))
    out = Path(out) if out is not None else Path("runs") / f"bench-{Path(str(preset)).stem}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"bench output path {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    ctx = BenchContext(
        preset=str(preset),
        config=config,
        out=out,
        data_root=Path(data_root) if data_root else None,
        coil20=Path(coil20) if coil20 else default_coil20(),
        real=dict(real or {}),
        workers=workers,
        device=str(eval_device),
        progress=progress,
        overwrite=overwrite,
    )
    results: dict[str, Any] = {
        "preset": str(preset),
        "overrides": list(overrides),
        "command": " ".join(["vantage", *sys.argv[1:]]),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "device": str(eval_device),
        "suites": {},
    }
    failed = False
    with folder_lock(out, "bench run"), _library_log(out / "bench.log"):
        failed = _run_suites(ctx, names, results, out)
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    results["status"] = "failed" if failed else "ok"
    atomic_write_json(out / "results.json", results)
    render_report(out)
    return out, json.loads((out / "results.json").read_text())


def bench_summary(run_dir: Path, results: dict[str, Any]) -> str:
    """What `vantage bench` prints at the end: each suite's state and time, the total, and where the files are."""
    lines = []
    for name, res in results["suites"].items():
        state = "failed: " + res["error"] if res.get("error") else ("ok" if res.get("ok", True) else "problems")
        lines.append(f"  suite {name}: {state} ({res['seconds']} s)")
    lines.append(f"  total: {sum(r['seconds'] for r in results['suites'].values()):.0f} s")
    return "\n".join([*lines, f"results: {run_dir / 'results.json'}", f"report:  {run_dir / 'report.html'}"])


def _run_suites(ctx: BenchContext, names: Sequence[str], results: dict[str, Any], out: Path) -> bool:
    """Run the suites in order, saving results.json after each; True when any failed."""
    failed = False
    for i, name in enumerate(names, 1):
        print(f"[vantage bench] suite {i}/{len(names)}: {name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            res = METHODS[name].run(ctx)
        except Exception as e:  # recorded in results and the report; the CLI exits non-zero
            res = {"error": f"{type(e).__name__}: {e}"}
        res["seconds"] = round(time.perf_counter() - start, 2)
        failed |= bool(res.get("error")) or not res.get("ok", True)
        results["suites"][name] = res
        atomic_write_json(out / "results.json", results)
    return failed


@contextlib.contextmanager
def _library_log(path: Path) -> Iterator[None]:
    """Send Lightning's start-up lines and tips (and library warnings) to ``path`` instead of the terminal, so the
    bench prints only its own progress; restored afterwards."""
    import logging
    import warnings

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning", "py.warnings")]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers, lg.propagate = [handler], False
        lg.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        for lg, handlers, level, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
        handler.close()
