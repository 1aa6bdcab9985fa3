"""The `vantage` command: data, train, eval, bench, report. The only module that wires packages together."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from vantage import VantageError, __version__


class _MethodGroup(TyperGroup):
    """A command group that adds the methods' generated commands (built on first use, so `vantage data ...`
    never imports the training stack)."""

    kind = ""

    def _generated(self) -> dict[str, Any]:
        from vantage.bench.commands import method_commands

        return method_commands(self.kind)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *sorted(set(self._generated()) - set(self.commands))]

    def get_command(self, ctx: Any, name: str) -> Any:
        return super().get_command(ctx, name) or self._generated().get(name)


app = typer.Typer(
    help="vantage: learn and measure viewpoint-robust visual representations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build, inspect, verify and preview multi-view datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

train_app = typer.Typer(
    help="Train a method's model (one command per method; options from its config).",
    no_args_is_help=True,
    cls=type("_TrainGroup", (_MethodGroup,), {"kind": "train"}),
)
app.add_typer(train_app, name="train")
eval_app = typer.Typer(
    help="Evaluate a trained model or any encoder (one command per method, plus `encoder` report cards).",
    no_args_is_help=True,
    cls=type("_EvalGroup", (_MethodGroup,), {"kind": "eval"}),
)
app.add_typer(eval_app, name="eval")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vantage {__version__}")
        raise typer.Exit()


_STATE = {"debug": False}


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Print the full traceback of an error.")] = False,
) -> None:
    """vantage: learn and measure viewpoint-robust visual representations."""
    _STATE["debug"] = debug


PresetOpt = Annotated[str, typer.Option("--preset", "-p", help="Preset name (quick, default, paper) or YAML path.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a data config field: key.path=value.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
DeviceOpt = Annotated[
    str, typer.Option(help="Where to evaluate: auto (CUDA if available, else CPU) | cpu | cuda | cuda:N | mps.")
]
RealOpt = Annotated[
    list[str] | None,
    typer.Option("--real", help="A real image set to score, name=folder or folder (repeatable): a `vantage data "
                                "import` output or a turntable folder."),
]  # fmt: skip
OverwriteRunOpt = Annotated[
    bool, typer.Option(help="Discard a run in --out that was trained with another config (or is corrupt).")
]
Coil20Opt = Annotated[Path | None, typer.Option(help="COIL-20 folder (default: $VANTAGE_COIL20 or ../shared/...).")]


@data_app.command("build")
def data_build(
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: cached under $VANTAGE_HOME).")] = None,
    overrides: SetOpt = None,
    meshes: Annotated[Path | None, typer.Option(help="Render a user mesh folder <root>/<category>/...")] = None,
    video: Annotated[
        bool, typer.Option("--video", help="Build the preset's multi-view video data (align.data:).")
    ] = False,
    action: Annotated[
        bool, typer.Option("--action", help="Build the preset's action-recognition videos (action.data:).")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Render processes (default: all cores).")] = None,
    shard: Annotated[str, typer.Option(help="Render only shard i of n objects (trajectories), e.g. 0/4.")] = "0/1",
    overwrite: Annotated[bool, typer.Option(help="Replace a build with a different config in --out.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Render a multi-view dataset (resumable: re-run the same command after an interruption)."""
    from vantage.config import preset_names
    from vantage.data import build_dataset, dataset_dir, load_build_config, parse_shard

    if preset not in preset_names():  # your own YAML: unknown sections or keys are refused (this loads the methods)
        from vantage.bench import check_preset

        check_preset(preset)

    if video or action:
        from vantage.data.video import build_video_dataset, load_video_config

        if meshes or (video and action):
            raise typer.BadParameter("give one of --video, --action, --meshes")
        cfg = load_video_config(preset, list(overrides or []), "action.data" if action else "align.data")
        res = build_video_dataset(cfg, out, workers, parse_shard(shard), overwrite, progress=not quiet)
    else:
        # your meshes: categories come from the folder names (the preset's zoo lists do not apply) unless --set
        mesh_ovr = [f"meshes.root={meshes}", "in_domain=[]", "out_of_domain=[]"] if meshes else []
        ovr = mesh_ovr + list(overrides or [])
        cfg = load_build_config(preset, ovr)
        root = out or dataset_dir(cfg)
        res = build_dataset(
            cfg, root, workers=workers, shard=parse_shard(shard), overwrite=overwrite, progress=not quiet
        )
    state = "complete" if res.complete else "partial (other shards pending)"
    unit = "trajectories" if video or action else "objects"
    typer.echo(
        f"{res.root}: {state}; rendered {res.rendered} images, skipped {res.skipped} finished {unit}, "
        f"{res.seconds:.1f} s" + (f"; manifest {res.manifest_hash}" if res.manifest_hash else "")
    )


@data_app.command("import")
def data_import(
    source: Annotated[Path, typer.Argument(help="The folder holding your images.")],
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to (replaced only with --overwrite).")],
    table: Annotated[
        Path | None,
        typer.Option(
            help="CSV / JSONL: file, object_id, azimuth_deg [, elevation_deg, category, split, sequence_id, "
            "frame_index, camera_id, bbox_x, bbox_y, bbox_w, bbox_h]."
        ),
    ] = None,
    convention: Annotated[
        str | None,
        typer.Option(
            help="Instead of a table, <object>__<n> names: coil20 (n = pose index of 72, az = 5n) | "
            "coil100 (n = azimuth in degrees) | degrees | index (n of N, az = 360n/N)."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the source folder's name).")] = None,
    split: Annotated[str, typer.Option(help="Split of rows that do not give one: train | val | test.")] = "test",
    size: Annotated[int | None, typer.Option(help="Fit every (cropped) image to size x size pixels.")] = None,
    resize: Annotated[
        str, typer.Option(help="How --size fits a non-square image: pad (keep the aspect ratio, black borders) | "
                               "stretch.")
    ] = "pad",
    fmt: Annotated[
        str, typer.Option("--format", help="table (a --table or --convention) | nerfstudio (transforms.json) | "
                                           "colmap (sparse model, text or binary) | co3d (frame_annotations.jgz).")
    ] = "table",
    up: Annotated[
        str, typer.Option(help="Posed formats: the world axis that is up (+x -x +y -y +z -z), or auto (the normal "
                               "of the camera-centre plane, else the cameras' mean image-up).")
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
) -> None:
    """Import your own multi-view images (a table of azimuths, a turntable naming convention, or a camera-posed
    capture: nerfstudio, COLMAP, CO3D; with none of them, the folder's labels.csv / labels.jsonl) into the data
    contract: checked row by row, checksummed, readable by every evaluator (--real)."""
    from vantage.data.importer import import_dataset

    res = import_dataset(source, out, table, convention, name, split, size=size, overwrite=overwrite, resize=resize,
                         fmt=fmt, up=up)  # fmt: skip
    typer.echo(f"{res.root}: imported {res.images} images of {res.objects} objects; manifest {res.manifest_hash}")


@data_app.command("export")
def data_export(
    root: Annotated[Path, typer.Argument(help="A vantage dataset whose rows carry camera poses.")],
    out: Annotated[Path, typer.Option(help="Folder to write (one scene per object; replaced only with --overwrite).")],
    fmt: Annotated[str, typer.Option("--format", help="nerfstudio | colmap | co3d.")] = "nerfstudio",
    view_set: Annotated[str | None, typer.Option(help="Only the rows of this view set (e.g. fib100).")] = None,
    binary: Annotated[bool, typer.Option(help="COLMAP: write the binary model (.bin) instead of text.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier export in --out.")] = False,
) -> None:
    """Write a dataset's posed images as nerfstudio / instant-ngp, COLMAP or CO3D captures (rendered data: exact
    poses, for NeRF and Gaussian-splatting tools); importing the export gives the same poses back."""
    from vantage.data.export import export_dataset

    res = export_dataset(root, out, fmt, view_set=view_set, binary=binary, overwrite=overwrite)
    typer.echo(f"{res.root}: exported {res.frames} images of {res.objects} objects as {res.format}")


@data_app.command("cameras")
def data_cameras(
    root: Annotated[Path, typer.Argument(help="A vantage dataset whose rows carry camera poses.")],
    obj: Annotated[str | None, typer.Option("--object", help="Object id (default: the first).")] = None,
    view_set: Annotated[str | None, typer.Option(help="Only the rows of this view set.")] = None,
    out: Annotated[Path, typer.Option(help="PNG to write.")] = Path("cameras.png"),
) -> None:
    """Draw one object's cameras as 3D frusta, with its derived centre and up axis (imported captures)."""
    from vantage.data.export import camera_table
    from vantage.report.plots import camera_frusta_plot

    name, poses, k, frame = camera_table(root, obj, view_set)
    centre, up_axis = (frame["centre"], frame["up"]) if frame else (None, None)
    path = camera_frusta_plot(poses, k, out, centre, up_axis, title=f"{name}: {len(poses)} cameras")
    typer.echo(f"wrote {path}")


@data_app.command("preview-video")
def data_preview_video(
    root: Annotated[Path, typer.Argument(help="A built video dataset.")],
    sequence: Annotated[str | None, typer.Option(help="Trajectory (sequence_id); default: the first.")] = None,
    out: Annotated[Path, typer.Option(help="GIF to write.")] = Path("trajectory.gif"),
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 12,
) -> None:
    """An animated GIF of one trajectory from every camera side by side (first-person camera first)."""
    from vantage.data.preview import video_preview

    path = video_preview(root, out, sequence, fps)
    typer.echo(f"wrote {path}")


@data_app.command("info")
def data_info(root: Path, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Summarise a built dataset: counts by split, domain, view set and category."""
    from vantage.data import summarize, summary_text

    s = summarize(root)
    typer.echo(json.dumps(s, indent=2) if as_json else summary_text(s))


@data_app.command("verify")
def data_verify(root: Path) -> None:
    """Check every file of a dataset (exists, decodes, checksum, size); exit 1 naming each problem."""
    from vantage.data import verify_dataset

    problems = verify_dataset(root)
    if problems:
        for p in problems:
            typer.echo(f"{root}/{p}", err=True)
        raise _fail(f"{root}: {len(problems)} problem(s)")
    typer.echo(f"{root}: OK")


@data_app.command("preview")
def data_preview(
    root: Annotated[Path | None, typer.Argument(help="A built dataset (uses its config); default: the preset.")] = None,
    preset: PresetOpt = "default",
    out: Annotated[Path, typer.Option(help="PNG to write.")] = Path("contact_sheet.png"),
    instances: Annotated[int, typer.Option(help="Instances per category.")] = 3,
    size: Annotated[int, typer.Option(help="Cell size in pixels.")] = 80,
    categories: Annotated[list[str] | None, typer.Option("--category", help="Only these categories.")] = None,
) -> None:
    """Contact sheet: every category x a few instances x fixed viewpoints (front, sides, back, above)."""
    from vantage.config import from_dict
    from vantage.data import BuildConfig, contact_sheet, load_build_config, load_card

    if root is not None:
        cfg = from_dict(BuildConfig, load_card(root)["generator"]["config"], f"{root}/dataset.json: generator.config")
    else:
        cfg = load_build_config(preset)
    path = contact_sheet(cfg, out, instances=instances, size=size, categories=categories)
    typer.echo(f"wrote {path}")


@data_app.command("captions")
def data_captions(
    root: Path,
    out: Annotated[
        Path | None, typer.Option(help="metadata.json to write (default: <root>/mvcap/<sets>-<split>.json).")
    ] = None,
    split: Annotated[str, typer.Option(help="train | val | test")] = "train",
    view_set: Annotated[list[str] | None, typer.Option("--view-set", help="View sets to include (repeatable).")] = None,
    domain: Annotated[str, typer.Option(help="in | out")] = "in",
    view_words: Annotated[bool, typer.Option("--view-words", help="Captions that name the view.")] = False,
    captioner: Annotated[
        str | None, typer.Option(help="Your captioning function, 'package.module:function' (image path, row) -> str.")
    ] = None,
) -> None:
    """Write MVCap-format image-caption rows ({path, caption, obj_id, img_id}) for a built dataset."""
    from vantage.data import load_captioner, write_mvcap

    fn = load_captioner(captioner) if captioner else None
    path = write_mvcap(root, out, split, view_set or None, domain, view_words, fn)
    typer.echo(f"wrote {path} ({len(json.loads(path.read_text()))} rows)")


@eval_app.command("encoder")
def eval_encoder_cmd(
    encoders: Annotated[
        list[str],
        typer.Option(
            "--encoder",
            help="Repeatable: timm:NAME[:pretrained|:FILE], clip:NAME_OR_FOLDER[@TAG], "
            "hf:ID_OR_FOLDER or ckpt:FILE (a `vantage train ssl` checkpoint).",
        ),
    ],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the preset's cached build).")] = None,
    preset: PresetOpt = "default",
    taps: Annotated[str | None, typer.Option(help="Taps of timm models / checkpoints, e.g. pooled,conv3.")] = None,
    coil20: Coil20Opt = None,
    no_coil20: Annotated[bool, typer.Option("--no-coil20", help="Skip COIL-20.")] = False,
    real: RealOpt = None,
    out: Annotated[
        Path, typer.Option(help="Folder of report cards (one sub-folder per encoder) and the leaderboard.")
    ] = Path("runs/encoders"),
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override an eval config field (ssl.eval): key=value.")
    ] = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """One report card per encoder (semantics, absolute / relative pose per tap, per-viewpoint accuracy and its
    worst view, zero-shot for CLIPs, every real set) and a leaderboard of all cards in --out."""
    from vantage.bench import default_coil20, parse_real, report_cards
    from vantage.data import resolve_data_root
    from vantage.models import resolve_device

    dev = str(resolve_device(device))
    root = resolve_data_root(data, preset)
    coil = None if no_coil20 else (coil20 or default_coil20())
    tap_list = [t.strip() for t in taps.split(",") if t.strip()] if taps else None
    board = report_cards(list(encoders), root, out, preset, tap_list, coil, parse_real(real), overrides or [],
                         progress=not quiet, device=dev)  # fmt: skip
    for row in board["rows"]:
        cells = ", ".join(f"{k} {v:.1f}" for k, v in row.items() if isinstance(v, int | float))
        typer.echo(f"{row['encoder']}: {cells}")
    typer.echo(f"cards: {out}/<encoder>/card.html\nleaderboard: {out / 'leaderboard.html'}")


@app.command("bench")
def bench(
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/bench-<preset>).")] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a preset field: section.key=value (data.image_size=32, ssl.bench.seeds=[0,1,2])."
        ),
    ] = None,
    suites: Annotated[
        list[str] | None, typer.Option("--suite", help="Run only these suites (repeatable; default: the preset's).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset folder to build/reuse (default: cache).")] = None,
    coil20: Coil20Opt = None,
    workers: Annotated[int | None, typer.Option(help="Render processes (default: all cores).")] = None,
    real: RealOpt = None,
    device: Annotated[
        str, typer.Option(help="auto | cpu | cuda | cuda:N | mps: where evaluations run and, unless auto, training.")
    ] = "auto",
    overwrite: OverwriteRunOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """The main job: build or reuse the preset's data, run its suites, write results.json and report.html."""
    from vantage.bench import bench_summary, parse_real, run_bench

    run_dir, results = run_bench(preset, out, overrides or [], data, coil20, workers, progress=not quiet,
                                 suites=suites, overwrite=overwrite, real=parse_real(real),
                                 device=device)  # fmt: skip
    typer.echo(bench_summary(run_dir, results))
    if results["status"] != "ok":
        raise _fail("some suites failed; see the report")


@app.command("report")
def report(
    run_dir: Path,
    markdown: Annotated[bool, typer.Option("--markdown", help="Also print the method tables as Markdown.")] = False,
) -> None:
    """Re-render report.html of a bench run folder from its results.json."""
    from vantage.bench import render_report

    path, md = render_report(run_dir)
    if markdown:
        typer.echo(md)
    typer.echo(f"wrote {path}")


# Errors whose message is the whole story: vantage's own, and the built-in types for a bad value or a missing file.
_CLEAN_ERRORS = (VantageError, ValueError, FileNotFoundError)


def _on_sigterm(signum: int, frame: Any) -> None:
    _STATE["signal"] = signum
    raise KeyboardInterrupt


def _interrupted() -> int:
    """The line and exit code of a command stopped by Ctrl-C (130) or SIGTERM (143); its run can be resumed."""
    typer.secho("error: interrupted (resumable: re-run the same command)", fg=typer.colors.RED, err=True)
    return 128 + int(_STATE.get("signal") or signal.SIGINT)


def main() -> None:
    """Console entry point: every failure ends in one ``error:`` line (the traceback goes to a log file it
    names; ``--debug`` prints it), and the exit code says whether the command worked."""
    signal.signal(signal.SIGTERM, _on_sigterm)  # a scheduler's SIGTERM stops cleanly, like Ctrl-C
    try:
        code = app(prog_name="vantage", standalone_mode=False)
        code = _interrupted() if code == 130 else code  # typer turns Ctrl-C / SIGTERM into a silent 130
    except KeyboardInterrupt:
        code = _interrupted()
    except Exception as e:
        if hasattr(e, "show") and hasattr(e, "exit_code"):  # a usage error: click prints it with the usage line
            e.show()
            code = e.exit_code
        elif type(e).__name__ == "Abort":
            code = _interrupted()
        elif _STATE["debug"]:
            raise
        elif isinstance(e, _CLEAN_ERRORS):
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            typer.secho(f"error: {first}", fg=typer.colors.RED, err=True)
            code = 1
        else:
            from vantage.io import write_error_log

            log = write_error_log(f"vantage {' '.join(sys.argv[1:])}")
            name = type(e).__name__
            where = f" (traceback: {log}; --debug prints it)" if log else " (--debug prints the traceback)"
            first = f"{name}: {e}".splitlines()[0]
            typer.secho(f"error: {first}{where}", fg=typer.colors.RED, err=True)
            code = 1
    sys.exit(code or 0)


if __name__ == "__main__":
    sys.exit(main())
