"""The `vantage` command: data, train, eval, bench, report. The only module that wires packages together."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vantage import __version__

app = typer.Typer(
    help="vantage: learn and measure viewpoint-robust visual representations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build, inspect, verify and preview multi-view datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

train_app = typer.Typer(
    help="Train models: pose-aware SSL, classification (+3DTRL), CLIP, Omniview-Tuning.", no_args_is_help=True
)
app.add_typer(train_app, name="train")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _parse_shard(shard: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise _fail(f"--shard must look like i/n (e.g. 0/4), got {shard!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise _fail(f"--shard i/n needs 0 <= i < n, got {shard!r}")
    return i, n


def _known_errors() -> tuple[type[Exception], ...]:
    from vantage.config import ConfigError
    from vantage.data import BuildError, DatasetError
    from vantage.models.hub import PretrainedUnavailable
    from vantage.shapes import UnknownCategoryError
    from vantage.shapes.meshes import MeshError

    return (ConfigError, DatasetError, BuildError, UnknownCategoryError, MeshError, FileNotFoundError,
            PretrainedUnavailable)  # fmt: skip


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
EpochsOpt = Annotated[int | None, typer.Option(help="Epochs (default from config).")]
SeedOpt = Annotated[int, typer.Option(help="Random seed.")]
DevicesOpt = Annotated[int, typer.Option(help="Devices (processes) per node; >1 uses DDP.")]
AcceleratorOpt = Annotated[str, typer.Option(help="auto | cpu | gpu")]
StopAfterOpt = Annotated[int | None, typer.Option("--stop-after", help="End after this many epochs (resumable).")]
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


def _echo_once(message: str) -> None:
    """Print from the first process only (DDP runs a command once per process)."""
    if os.environ.get("LOCAL_RANK", "0") == "0":
        typer.echo(message)


@data_app.command("build")
def data_build(
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: cached under $VANTAGE_HOME).")] = None,
    overrides: SetOpt = None,
    meshes: Annotated[Path | None, typer.Option(help="Render a user mesh folder <root>/<category>/...")] = None,
    video: Annotated[bool, typer.Option("--video", help="Build the preset's multi-view video data (video:).")] = False,
    action: Annotated[
        bool, typer.Option("--action", help="Build the preset's action-recognition videos (action.data:).")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Render processes (default: all cores).")] = None,
    shard: Annotated[str, typer.Option(help="Render only shard i of n objects (trajectories), e.g. 0/4.")] = "0/1",
    overwrite: Annotated[bool, typer.Option(help="Replace a build with a different config in --out.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Render a multi-view dataset (resumable: re-run the same command after an interruption)."""
    from vantage.data import build_dataset, dataset_dir, load_build_config

    try:
        if video or action:
            from vantage.data.video import build_video_dataset, load_video_config

            if meshes or (video and action):
                raise typer.BadParameter("give one of --video, --action, --meshes")
            cfg = load_video_config(preset, list(overrides or []), "action.data" if action else "video")
            res = build_video_dataset(cfg, out, workers, _parse_shard(shard), overwrite, progress=not quiet)
        else:
            # your meshes: categories come from the folder names (the preset's zoo lists do not apply) unless --set
            mesh_ovr = [f"meshes.root={meshes}", "in_domain=[]", "out_of_domain=[]"] if meshes else []
            ovr = mesh_ovr + list(overrides or [])
            cfg = load_build_config(preset, ovr)
            root = out or dataset_dir(cfg)
            res = build_dataset(
                cfg, root, workers=workers, shard=_parse_shard(shard), overwrite=overwrite, progress=not quiet
            )
    except _known_errors() as e:
        raise _fail(str(e)) from None
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
    size: Annotated[int | None, typer.Option(help="Resize every (cropped) image to size x size pixels.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
) -> None:
    """Import your own multi-view images (a table of azimuths, or a turntable naming convention) into the data
    contract: checked row by row, cropped to bounding boxes, checksummed, readable by every evaluator (--real)."""
    from vantage.data import import_dataset

    try:
        res = import_dataset(source, out, table, convention, name, split, size=size, overwrite=overwrite)
    except _known_errors() as e:
        raise _fail(str(e)) from None
    typer.echo(f"{res.root}: imported {res.images} images of {res.objects} objects; manifest {res.manifest_hash}")


@data_app.command("preview-video")
def data_preview_video(
    root: Annotated[Path, typer.Argument(help="A built video dataset.")],
    sequence: Annotated[str | None, typer.Option(help="Trajectory (sequence_id); default: the first.")] = None,
    out: Annotated[Path, typer.Option(help="GIF to write.")] = Path("trajectory.gif"),
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 12,
) -> None:
    """An animated GIF of one trajectory from every camera side by side (first-person camera first)."""
    from vantage.data.preview import video_preview

    try:
        path = video_preview(root, out, sequence, fps)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {path}")


@data_app.command("info")
def data_info(root: Path, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Summarise a built dataset: counts by split, domain, view set and category."""
    from vantage.data import summarize

    try:
        s = summarize(root)
    except _known_errors() as e:
        raise _fail(str(e)) from None
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    typer.echo(
        f"{s['name']} at {s['root']}\n  {s['images']} images of {s['image_size']} px; manifest {s['manifest_hash']}"
    )
    for key in ("objects", "by_split", "by_domain", "by_view_set"):
        typer.echo(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in s[key].items()))
    typer.echo(
        f"  categories in: {', '.join(s['categories']['in'])}\n  categories out: {', '.join(s['categories']['out'])}"
    )
    typer.echo(f"  with depth: {s['with_depth']}, with mask: {s['with_mask']}")


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

    try:
        if root is not None:
            cfg = from_dict(
                BuildConfig, load_card(root)["generator"]["config"], f"{root}/dataset.json: generator.config"
            )
        else:
            cfg = load_build_config(preset)
        path = contact_sheet(cfg, out, instances=instances, size=size, categories=categories)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {path}")


eval_app = typer.Typer(
    help="Evaluate frozen encoders: the semantic + pose benchmark, viewpoint-shift classification, zero-shot.",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")


@train_app.command("ssl")
def train_ssl_cmd(
    method: Annotated[str, typer.Option(help="simclr | vicreg | simsiam | supervised")] = "vicreg",
    traj_weight: Annotated[float, typer.Option("--traj-weight", help="Trajectory-loss weight lambda (0: off).")] = 0.0,
    traj_on: Annotated[str, typer.Option("--traj-on", help="pooled (the paper) | projector")] = "pooled",
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the preset's cached build).")] = None,
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/ssl/<method>-traj<w>-seed<s>).")] = None,
    epochs: EpochsOpt = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size per device.")] = None,
    seed: SeedOpt = 0,
    devices: DevicesOpt = 1,
    accelerator: AcceleratorOpt = "auto",
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override an SSL config field: key=value.")
    ] = None,
    stop_after: StopAfterOpt = None,
    overwrite: OverwriteRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Pose-aware SSL on the triplet view set (settings: the preset's ssl.train, then these options);
    re-running the same command resumes from last.ckpt."""
    from vantage.config import from_dict
    from vantage.data import resolve_data_root
    from vantage.train import SSLTrainConfig, train_ssl

    given = {"method": method, "traj_weight": traj_weight, "traj_on": traj_on, "batch_size": batch_size,
             "seed": seed, "devices": devices, "accelerator": accelerator}  # fmt: skip
    try:
        cfg = from_dict(SSLTrainConfig, _train_fields(preset, "ssl", given, epochs, overrides), "train ssl")
        root = resolve_data_root(data, preset)
        run = out or Path("runs") / "ssl" / f"{cfg.method}-traj{cfg.traj_weight:g}-seed{cfg.seed}"
        ckpt = train_ssl(cfg, root, run, progress=not quiet, stop_after=stop_after, overwrite=overwrite)
    except _known_errors() as e:
        raise _fail(str(e)) from None
    _echo_once(f"checkpoint: {ckpt}")


@eval_app.command("pose-ssl")
def eval_pose_ssl_cmd(
    checkpoint: Annotated[
        Path | None, typer.Option(help="A `vantage train ssl` checkpoint, or with --model a state dict.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="A timm model name (your own encoder) instead of an SSL run.")
    ] = None,
    pretrained: Annotated[bool, typer.Option(help="With --model: timm's pretrained weights (needs the hub).")] = False,
    stem: Annotated[str, typer.Option(help="With --model, ResNets: timm | cifar | cifar_pool.")] = "timm",
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the preset's cached build).")] = None,
    preset: PresetOpt = "default",
    coil20: Annotated[
        Path | None, typer.Option(help="COIL-20 folder (default: $VANTAGE_COIL20 or ../shared/...).")
    ] = None,
    no_coil20: Annotated[bool, typer.Option("--no-coil20", help="Skip the COIL-20 scenario.")] = False,
    real: RealOpt = None,
    taps: Annotated[
        str | None, typer.Option(help="Comma-separated taps (default from config), e.g. pooled,conv3.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: <checkpoint run>/eval).")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override an eval config field (ssl.eval): key=value.")
    ] = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """The semantic + pose benchmark (semantics, absolute and relative pose in four scenarios, COIL-20)."""
    from vantage.bench import default_coil20, method_settings
    from vantage.config import ConfigError, from_dict, set_override, to_dict
    from vantage.data import load_card, resolve_data_root
    from vantage.eval import (
        PoseEvalConfig,
        eval_image_size,
        evaluate_pose_ssl,
        load_pose_eval_data,
        pose_table_markdown,
    )
    from vantage.io import atomic_write_json
    from vantage.models import FeatureExtractor, create_backbone, resolve_device
    from vantage.train import load_ssl_extractor

    try:
        dev = resolve_device(device)
        if checkpoint is None and model is None:
            raise ConfigError("give --checkpoint (a `vantage train ssl` run) or --model (a timm model name)")
        fields = to_dict(method_settings("pose_ssl", preset)["eval"])
        if taps:
            fields["taps"] = [t.strip() for t in taps.split(",") if t.strip()]
        for o in overrides or []:
            set_override(fields, o)
        cfg = from_dict(PoseEvalConfig, fields, "eval pose-ssl")
        if model is None:
            extractor, train_cfg = load_ssl_extractor(checkpoint)
            trained_size = train_cfg.image_size
        else:
            extractor = FeatureExtractor(create_backbone(model, pretrained, checkpoint, stem=stem)).eval()
            trained_size = None
        root = resolve_data_root(data, preset)
        cfg.image_size = eval_image_size(cfg.image_size, trained_size, load_card(root).get("image_size", 224))
        coil = None if no_coil20 else (coil20 or default_coil20())
        eval_data = load_pose_eval_data(root, cfg, coil, progress=not quiet, real=_parse_real(real))
        result = evaluate_pose_ssl(extractor.to(dev), eval_data, cfg, progress=not quiet)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    if model is None:
        default_dest = checkpoint.parent.parent / "eval"
    else:  # one folder per encoder, so a second model does not overwrite the first
        weights = "pretrained" if pretrained else checkpoint.stem if checkpoint is not None else "random"
        default_dest = Path("runs") / "eval" / f"{model.replace('/', '_')}-{weights}"
    dest = out or default_dest
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        dest / "pose_ssl.json",
        {
            "checkpoint": str(checkpoint) if checkpoint else None,
            "model": model,
            "data": str(root),
            "coil20": str(coil) if coil else None,
            "real": {k: str(v) for k, v in eval_data.real.items()},
            "skipped": eval_data.skipped,
            "config": to_dict(cfg),
            "table": result.table,
            "seconds": result.seconds,
        },
    )
    typer.echo(pose_table_markdown(result.table))
    for name in eval_data.real:
        for tap, t in result.table.items():
            if name in t:
                scores = _rounded(t[name]["relative_azimuth"], 2)
                typer.echo(f"real set {name} ({tap}): relative azimuth {json.dumps(scores)}")
    typer.echo(f"seconds: {result.seconds}\nwrote {dest / 'pose_ssl.json'}")


@train_app.command("classify")
def train_classify_cmd(
    trl3d: Annotated[str, typer.Option("--3dtrl", help="none | faithful | improved")] = "none",
    data: Annotated[
        Path | None, typer.Option(help="A built dataset or an ImageFolder with train/ (default: the preset's build).")
    ] = None,
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/classify/<3dtrl>-seed<s>).")] = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    devices: DevicesOpt = 1,
    accelerator: AcceleratorOpt = "auto",
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a classify config field (trl3d.train): key=value.")
    ] = None,
    stop_after: StopAfterOpt = None,
    overwrite: OverwriteRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Supervised classification on a restricted view range, optionally with 3DTRL (settings: the preset's
    trl3d.train, then these options); re-running the same command resumes from last.ckpt."""
    from vantage.config import from_dict
    from vantage.data import resolve_data_root
    from vantage.train import ClassifyTrainConfig, train_classify

    try:
        given = {"trl3d": trl3d, "seed": seed, "devices": devices, "accelerator": accelerator}
        fields = _train_fields(preset, "trl3d", given, epochs, overrides)
        cfg = from_dict(ClassifyTrainConfig, fields, "train classify")
        root = resolve_data_root(data, preset, need_card=False)
        run = out or Path("runs") / "classify" / f"{cfg.trl3d}-seed{cfg.seed}"
        ckpt = train_classify(cfg, root, run, progress=not quiet, stop_after=stop_after, overwrite=overwrite)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _echo_once(f"checkpoint: {ckpt}")


def _classify_inputs(checkpoint: Path, data: Path | None, preset: str, device: str):
    from vantage.data import resolve_data_root
    from vantage.models import resolve_device
    from vantage.train import load_classifier

    dev = resolve_device(device)
    model, cfg, classes = load_classifier(checkpoint)
    return model.to(dev), cfg, classes, resolve_data_root(data, preset, need_card=data is None)


@eval_app.command("classify")
def eval_classify_cmd(
    checkpoint: Annotated[Path, typer.Option(help="A `vantage train classify` checkpoint.")],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the preset's cached build).")] = None,
    preset: PresetOpt = "default",
    distortion: Annotated[float, typer.Option(help="Perspective-warp strength (torchvision distortion_scale).")] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed of the perspective warps.")] = 0,
    real: RealOpt = None,
    out: Annotated[Path | None, typer.Option(help="JSON file to write (default: print only).")] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Top-1 on held-out objects at the training views, at unseen poses (Fib(100)) and under perspective warps;
    on an ImageFolder (--data with val/ or test/ class folders), top-1 per split; on every --real set whose
    categories are the model's classes, top-1 overall and per azimuth bin."""
    from vantage.eval import evaluate_classifier, evaluate_imagefolder, evaluate_real_classification
    from vantage.train import train_view_filter

    try:
        real_sets = _parse_real(real)
        model, cfg, classes, root = _classify_inputs(checkpoint, data, preset, device)
        if (root / "dataset.json").is_file():
            ev = evaluate_classifier(
                model, root, classes, cfg.image_size, cfg.train_view_set, train_view_filter(cfg), distortion, seed
            )
            res: dict[str, Any] = {"top1": ev.top1, "n": ev.n}
        else:
            res = evaluate_imagefolder(model, root, classes, cfg.image_size)
        if real_sets:
            res["real"] = evaluate_real_classification(model, real_sets, classes, cfg.image_size)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _print_and_save(res, out, {"checkpoint": str(checkpoint), "data": str(root)})


@eval_app.command("depth")
def eval_depth_cmd(
    checkpoint: Annotated[Path, typer.Option(help="A `vantage train classify --3dtrl ...` checkpoint.")],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the preset's cached build).")] = None,
    preset: PresetOpt = "default",
    max_images: Annotated[int, typer.Option(help="Test images to score (0: all with depth).")] = 500,
    min_foreground: Annotated[
        float, typer.Option(help="Score a token cell if the object covers at least this fraction of it.")
    ] = 0.5,
    out: Annotated[Path | None, typer.Option(help="JSON file to write (default: print only).")] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Per-image Spearman correlation of 3DTRL token depth with rendered depth, averaged over test images."""
    from vantage.eval import evaluate_pseudo_depth

    try:
        model, cfg, _, root = _classify_inputs(checkpoint, data, preset, device)
        res = evaluate_pseudo_depth(
            model, root, cfg.image_size, max_images=max_images or None, min_foreground=min_foreground
        )
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _print_and_save(res, out, {"checkpoint": str(checkpoint), "data": str(root)})


def _print_and_save(res: dict[str, Any], out: Path | None, context: dict[str, Any]) -> None:
    """Print a result as JSON (floats rounded) and, with ``out``, write it (with ``context``) atomically."""
    from vantage.io import atomic_write_json

    typer.echo(json.dumps(_rounded(res), indent=2))
    if out is not None:
        try:
            atomic_write_json(out, {**context, **res})
        except OSError as e:
            raise _fail(f"cannot write {out}: {e.strerror or e}") from None
        typer.echo(f"wrote {out}")


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

    try:
        fn = load_captioner(captioner) if captioner else None
        path = write_mvcap(root, out, split, view_set or None, domain, view_words, fn)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {path} ({len(json.loads(path.read_text()))} rows)")


ClipSetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config field: key=value.")]


@train_app.command("clip")
def train_clip_cmd(
    model: Annotated[str | None, typer.Option(help="open_clip name or vantage config (default from preset).")] = None,
    pretrained: Annotated[
        str | None, typer.Option(help="open_clip pretrained tag (e.g. openai) or checkpoint file to start from.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="A built dataset or an MVCap metadata.json.")] = None,
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/clip/base-seed<s>).")] = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    devices: DevicesOpt = 1,
    accelerator: AcceleratorOpt = "auto",
    overrides: ClipSetOpt = None,
    stop_after: StopAfterOpt = None,
    overwrite: OverwriteRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a base CLIP on image-caption pairs (by default the near-front canonical views only, so that it has
    the viewpoint bias OVT is meant to fix); exports an open_clip folder <out>/model. Resumable."""
    from vantage.config import from_dict
    from vantage.data import resolve_data_root
    from vantage.train.clip import ClipTrainConfig, train_clip

    try:
        given = {"model": model, "pretrained": pretrained, "seed": seed, "devices": devices, "accelerator": accelerator}
        fields = _train_fields(preset, "ovt", given, epochs, overrides, part="base")
        cfg = from_dict(ClipTrainConfig, fields, "train clip")
        run = out or Path("runs") / "clip" / f"base-seed{cfg.seed}"
        folder = train_clip(
            cfg,
            resolve_data_root(data, preset, need_card=False),
            run,
            progress=not quiet,
            stop_after=stop_after,
            overwrite=overwrite,
        )
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _echo_once(f"model: {folder}")


@train_app.command("ovt")
def train_ovt_cmd(
    base: Annotated[str, typer.Option(help="CLIP to tune: a saved folder, open_clip name or vantage config.")],
    pretrained: Annotated[str | None, typer.Option(help="With an open_clip name: tag or checkpoint file.")] = None,
    variant: Annotated[str, typer.Option(help="faithful | improved | lora_only | full_ft")] = "faithful",
    data: Annotated[Path | None, typer.Option(help="A built dataset or an MVCap metadata.json (multi-view).")] = None,
    clean: Annotated[
        Path | None, typer.Option(help="MVCap metadata.json of clean pairs (default: the dataset's canonical views).")
    ] = None,
    preset: PresetOpt = "default",
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/ovt/<variant>-seed<s>).")] = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    devices: DevicesOpt = 1,
    accelerator: AcceleratorOpt = "auto",
    overrides: ClipSetOpt = None,
    stop_after: StopAfterOpt = None,
    overwrite: OverwriteRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Omniview-Tuning: LoRA + VIFormer with the minimax cross-viewpoint alignment (settings: the preset's
    ovt.train, then these options); exports <out>/model. Re-running resumes from last.ckpt."""
    from vantage.config import from_dict
    from vantage.data import resolve_data_root
    from vantage.train.clip import OVTTrainConfig, train_ovt

    try:
        given = {"base": base, "pretrained": pretrained, "variant": variant, "seed": seed, "devices": devices,
                 "accelerator": accelerator}  # fmt: skip
        fields = _train_fields(preset, "ovt", given, epochs, overrides)
        cfg = from_dict(OVTTrainConfig, fields, "train ovt")
        run = out or Path("runs") / "ovt" / f"{cfg.variant}-seed{cfg.seed}"
        root = resolve_data_root(data, preset, need_card=False)
        folder = train_ovt(cfg, root, run, clean, progress=not quiet, stop_after=stop_after, overwrite=overwrite)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _echo_once(f"model: {folder}")


@eval_app.command("zeroshot")
def eval_zeroshot_cmd(
    model: Annotated[str, typer.Option(help="A saved folder (vantage train clip/ovt), open_clip name or config.")],
    pretrained: Annotated[str | None, typer.Option(help="With an open_clip name: tag or checkpoint file.")] = None,
    image_size: Annotated[int | None, typer.Option("--image-size", help="Evaluate at this input size.")] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the preset's cached build).")] = None,
    preset: PresetOpt = "default",
    coil20: Annotated[
        Path | None, typer.Option(help="COIL-20 folder (default: $VANTAGE_COIL20 or ../shared/...).")
    ] = None,
    no_coil20: Annotated[bool, typer.Option("--no-coil20", help="Skip the COIL-20 retrieval set.")] = False,
    real: RealOpt = None,
    out: Annotated[Path | None, typer.Option(help="JSON file to write (default: print only).")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override an ovt.eval field: key=value.")] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Zero-shot top-1/top-5 on held-out objects: clean, 2D-shifted, unseen poses, worst view; cross-azimuth
    retrieval on COIL-20 and every --real set."""
    from vantage.bench import default_coil20, method_settings
    from vantage.config import from_dict, set_override, to_dict
    from vantage.data import resolve_data_root
    from vantage.eval.zeroshot import ZeroShotConfig, load_zeroshot_data, zeroshot_benchmark
    from vantage.io import atomic_write_json
    from vantage.models import resolve_device
    from vantage.models.clip import get_clip_tokenizer, load_clip

    try:
        fields = to_dict(method_settings("ovt", preset)["eval"])
        for o in overrides or []:
            set_override(fields, o)
        cfg = from_dict(ZeroShotConfig, fields, "eval zeroshot")
        dev = resolve_device(device)
        clip, model_cfg = load_clip(model, pretrained, image_size)
        clip.to(dev)
        coil = None if no_coil20 else (coil20 or default_coil20())
        eval_data = load_zeroshot_data(
            resolve_data_root(data, preset, need_card=False),
            model_cfg["vision_cfg"]["image_size"],
            cfg,
            coil,
            real=_parse_real(real),
        )
        result = zeroshot_benchmark(clip, get_clip_tokenizer(model), eval_data, cfg)
    except (*_known_errors(), ValueError, RuntimeError) as e:
        raise _fail(str(e)) from None
    summary = {"sets": result["sets"], "groups": result["groups"]}
    typer.echo(json.dumps(_rounded(summary, 2), indent=2))
    if out is not None:
        atomic_write_json(out, {"model": model, "pretrained": pretrained, "config": to_dict(cfg), **result})
        typer.echo(f"wrote {out}")


def _parse_real(values: list[str] | None) -> dict[str, Path]:
    """``--real name=folder`` (or just ``folder``: named after it) -> {name: folder}; each folder must exist."""
    out: dict[str, Path] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        folder = Path(path if sep else v)
        name = name if sep else folder.name
        if not folder.is_dir():
            raise ValueError(f"--real {v}: {folder} is not a folder")
        if name in out:
            raise ValueError(f"--real {v}: the name {name!r} is given twice")
        out[name] = folder
    return out


def _rounded(obj: Any, digits: int = 4) -> Any:
    """``obj`` with every float rounded to ``digits`` decimals (for printing results)."""
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, dict):
        return {k: _rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v, digits) for v in obj]
    return obj


def _train_fields(preset: str, section: str, given: dict[str, Any], epochs: int | None,
                  overrides: list[str] | None, part: str = "train") -> dict[str, Any]:  # fmt: skip
    """A train config's fields: the preset's ``<section>.<part>``, then the command's options that were given
    (not None), then ``--set``."""
    from vantage.config import load_preset, set_override

    fields = dict((load_preset(preset).get(section, {}) or {}).get(part, {}) or {})
    fields.update({k: v for k, v in {**given, "epochs": epochs}.items() if v is not None})
    for o in overrides or []:
        set_override(fields, o)
    return fields


def _video_root(data: Path | None, preset: str, section: str = "video") -> Path:
    from vantage.data import DatasetError
    from vantage.data.video import load_video_config, video_dataset_dir

    root = data or video_dataset_dir(load_video_config(preset, section=section))
    if not (root / "dataset.json").is_file():
        flag = "--video" if section == "video" else "--action"
        hint = "" if data else f"; run `vantage data build {flag} --preset {preset}` or pass --data"
        raise DatasetError(f"no built {'video' if section == 'video' else 'action'} dataset at {root}{hint}")
    return root


@train_app.command("align")
def train_align_cmd(
    trl3d: Annotated[str, typer.Option("--3dtrl", help="none | faithful | improved")] = "none",
    objective: Annotated[str, typer.Option(help="tcn (faithful margin loss) | infonce (improved)")] = "infonce",
    data: Annotated[Path | None, typer.Option(help="A built video dataset (default: the preset's).")] = None,
    preset: PresetOpt = "default",
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/align/<3dtrl>-<objective>-seed<s>).")
    ] = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    devices: DevicesOpt = 1,
    accelerator: AcceleratorOpt = "auto",
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override an align config field: key=value.")
    ] = None,
    stop_after: StopAfterOpt = None,
    overwrite: OverwriteRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Multi-view time-contrastive training of a per-frame encoder (+3DTRL) on the first-person and seen
    third-person cameras of a video dataset (settings: the preset's align.train, then these options)."""
    from vantage.config import from_dict
    from vantage.train.align import AlignTrainConfig, train_align

    try:
        given = {"trl3d": trl3d, "objective": objective, "seed": seed, "devices": devices, "accelerator": accelerator}
        cfg = from_dict(AlignTrainConfig, _train_fields(preset, "align", given, epochs, overrides), "train align")
        root = _video_root(data, preset)
        run = out or Path("runs") / "align" / f"{cfg.trl3d}-{cfg.objective}-seed{cfg.seed}"
        ckpt = train_align(cfg, root, run, progress=not quiet, stop_after=stop_after, overwrite=overwrite)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _echo_once(f"checkpoint: {ckpt}")


@eval_app.command("align")
def eval_align_cmd(
    checkpoint: Annotated[Path, typer.Option(help="A `vantage train align` checkpoint.")],
    data: Annotated[Path | None, typer.Option(help="A built video dataset (default: the preset's).")] = None,
    preset: PresetOpt = "default",
    split: Annotated[str, typer.Option(help="Trajectories to score: test | val.")] = "test",
    out: Annotated[Path | None, typer.Option(help="JSON file to write (default: print only).")] = None,
    figure: Annotated[
        Path | None, typer.Option(help="PNG: first-person query frames and the third-person frames retrieved.")
    ] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Alignment error, cycle error and Kendall's tau (reference and tau-b) over every camera pair of the held-out
    trajectories, for first-/third-person and third-/third-person pairs, seen and unseen cameras; phase
    classification and progression probes; with 3DTRL, the camera-head diagnostic."""
    from vantage.eval.align import AlignEvalConfig, evaluate_alignment, retrieval_panels
    from vantage.io import atomic_write_json
    from vantage.models import find_3dtrl, resolve_device
    from vantage.train.align import load_align_encoder

    try:
        dev = resolve_device(device)
        module, cfg = load_align_encoder(checkpoint)
        module.to(dev)
        trl = find_3dtrl(module.encoder) if cfg.trl3d != "none" else None
        root = _video_root(data, preset)
        res = evaluate_alignment(module.embed, root, cfg.image_size, AlignEvalConfig(split), trl, dev)
        if figure is not None and "retrieval" in res:
            from vantage.report import retrieval_strip

            e = res["retrieval"]
            title = f"{e['sequence_id']}: {e['query']} query -> nearest {e['target']} frame"
            query, rows, titles = retrieval_panels(root, {checkpoint.parent.parent.name: e})
            retrieval_strip(query, rows, figure, titles, title)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(json.dumps({k: v for k, v in res.items() if k != "retrieval"}, indent=2))
    if out is not None:
        atomic_write_json(out, {"checkpoint": str(checkpoint), **res})
        typer.echo(f"wrote {out}")
    if figure is not None:
        typer.echo(f"wrote {figure}")


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
    coil20: Annotated[
        Path | None, typer.Option(help="COIL-20 folder (default: $VANTAGE_COIL20 or ../shared/...).")
    ] = None,
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
    from vantage.bench import default_coil20, report_cards
    from vantage.data import resolve_data_root
    from vantage.models import resolve_device

    try:
        dev = str(resolve_device(device))
        root = resolve_data_root(data, preset)
        coil = None if no_coil20 else (coil20 or default_coil20())
        tap_list = [t.strip() for t in taps.split(",") if t.strip()] if taps else None
        board = report_cards(list(encoders), root, out, preset, tap_list, coil, _parse_real(real), overrides or [],
                             progress=not quiet, device=dev)  # fmt: skip
    except (*_known_errors(), ValueError, RuntimeError) as e:
        raise _fail(str(e)) from None
    for row in board["rows"]:
        cells = ", ".join(f"{k} {v:.1f}" for k, v in row.items() if isinstance(v, int | float))
        typer.echo(f"{row['encoder']}: {cells}")
    typer.echo(f"cards: {out}/<encoder>/card.html\nleaderboard: {out / 'leaderboard.html'}")


@train_app.command("action")
def train_action_cmd(
    arch: Annotated[str, typer.Option(help="timesformer | frame (per-frame timm ViT + pooling)")] = "timesformer",
    trl3d: Annotated[str, typer.Option("--3dtrl", help="none | faithful | improved")] = "none",
    protocol: Annotated[str, typer.Option(help="cross_view | cross_subject")] = "cross_view",
    pretrained: Annotated[
        str | None, typer.Option(help="TimeSformer weights: HF id (facebook/timesformer-base-finetuned-k400) | folder")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="A built action dataset (default: the preset's).")] = None,
    preset: PresetOpt = "default",
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/action/<arch>-<3dtrl>-<protocol>-seed<s>).")
    ] = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    devices: DevicesOpt = 1,
    accelerator: AcceleratorOpt = "auto",
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override an action train config field: key=value.")
    ] = None,
    stop_after: StopAfterOpt = None,
    overwrite: OverwriteRunOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Action recognition: a video classifier (+3DTRL) trained on the training side of a cross-view or
    cross-subject protocol (settings: the preset's action.train, then these options)."""
    from vantage.config import from_dict
    from vantage.train.action import ActionTrainConfig, train_action

    try:
        given = {"arch": arch, "trl3d": trl3d, "protocol": protocol, "pretrained": pretrained, "seed": seed,
                 "devices": devices, "accelerator": accelerator}  # fmt: skip
        fields = _train_fields(preset, "action", given, epochs, overrides)
        cfg = from_dict(ActionTrainConfig, fields, "train action")
        root = _video_root(data, preset, "action.data")
        run = out or Path("runs") / "action" / f"{cfg.arch}-{cfg.trl3d}-{cfg.protocol}-seed{cfg.seed}"
        ckpt = train_action(cfg, root, run, progress=not quiet, stop_after=stop_after, overwrite=overwrite)
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    _echo_once(f"checkpoint: {ckpt}")


@eval_app.command("action")
def eval_action_cmd(
    checkpoint: Annotated[Path, typer.Option(help="A `vantage train action` checkpoint.")],
    data: Annotated[Path | None, typer.Option(help="A built action dataset (default: the preset's).")] = None,
    preset: PresetOpt = "default",
    clips: Annotated[int, typer.Option(help="Test clips per recording and camera (logits averaged).")] = 1,
    out: Annotated[Path | None, typer.Option(help="JSON file to write (default: print only).")] = None,
    figure: Annotated[
        Path | None, typer.Option(help="PNG: accuracy per test camera vs its angle to the nearest training camera.")
    ] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Top-1 and mean per-class accuracy on the test side of the checkpoint's protocol, per test camera (with
    its angle from the nearest training camera) and per actor."""
    from vantage.data.actions import camera_distances
    from vantage.eval.action import ActionEvalConfig, evaluate_action
    from vantage.io import atomic_write_json
    from vantage.models import resolve_device
    from vantage.train.action import action_data, load_action_model

    try:
        dev = resolve_device(device)
        module, cfg = load_action_model(checkpoint)
        module.to(dev)
        root = _video_root(data, preset, "action.data")
        test = action_data(root, cfg, "test", clips)
        res = evaluate_action(module, test, camera_distances(test.split), ActionEvalConfig(clips), module.classes)
        if figure is not None:
            from vantage.report import accuracy_vs_distance

            points = {c: (v["distance_deg"], v["top1"], 0.0) for c, v in res["per_camera"].items()}
            accuracy_vs_distance({checkpoint.parent.parent.name: points}, figure, f"{cfg.protocol} test cameras")
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    summary = {k: res[k] for k in ("top1", "mean_class", "clips", "per_camera", "per_actor")}
    typer.echo(json.dumps(_rounded(summary), indent=2))
    if out is not None:
        atomic_write_json(out, {"checkpoint": str(checkpoint), "protocol": cfg.protocol, **res})
        typer.echo(f"wrote {out}")
    if figure is not None:
        typer.echo(f"wrote {figure}")


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
    coil20: Annotated[
        Path | None, typer.Option(help="COIL-20 folder (default: $VANTAGE_COIL20 or ../shared/...).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Render processes (default: all cores).")] = None,
    real: RealOpt = None,
    device: Annotated[
        str, typer.Option(help="auto | cpu | cuda | cuda:N | mps: where evaluations run and, unless auto, training.")
    ] = "auto",
    overwrite: OverwriteRunOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """The main job: build or reuse the preset's data, run its suites, write results.json and report.html."""
    from vantage.bench import run_bench

    try:
        run_dir, results = run_bench(preset, out, overrides or [], data, coil20, workers, progress=not quiet,
                                     suites=suites, overwrite=overwrite, real=_parse_real(real),
                                     device=device)  # fmt: skip
    except (*_known_errors(), ValueError) as e:
        raise _fail(str(e)) from None
    for name, res in results["suites"].items():
        state = "failed: " + res["error"] if res.get("error") else ("ok" if res.get("ok", True) else "problems")
        typer.echo(f"  suite {name}: {state} ({res['seconds']} s)")
    typer.echo(f"  total: {sum(r['seconds'] for r in results['suites'].values()):.0f} s")
    typer.echo(f"results: {run_dir / 'results.json'}\nreport:  {run_dir / 'report.html'}")
    if results["status"] != "ok":
        raise _fail("some suites failed; see the report")


@app.command("report")
def report(
    run_dir: Path,
    markdown: Annotated[bool, typer.Option("--markdown", help="Also print the method tables as Markdown.")] = False,
) -> None:
    """Re-render report.html of a bench run folder from its results.json."""
    from vantage.bench import render_report

    try:
        path, md = render_report(run_dir)
    except _known_errors() as e:
        raise _fail(str(e)) from None
    if markdown:
        typer.echo(md)
    typer.echo(f"wrote {path}")


# Errors whose message is the whole story (no exception type is printed for them).
_CLEAN_ERRORS = ("ConfigError", "DatasetError", "BuildError", "CheckpointError", "NonFiniteLossError", "WriteError",
                 "UnknownCategoryError", "MeshError", "FileNotFoundError")  # fmt: skip


def _log_traceback() -> Path | None:
    """Write the current exception's traceback to ``$VANTAGE_HOME/logs/`` and return the file (None if that fails)."""
    import datetime as dt
    import traceback

    from vantage.io import atomic_write_text, vantage_home

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = vantage_home() / "logs" / f"error-{stamp}-{os.getpid()}.log"
    try:
        atomic_write_text(path, f"vantage {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}")
    except OSError:
        return None
    return path


def main() -> None:
    """Console entry point: every failure ends in one ``error:`` line (the traceback goes to a log file it
    names; ``--debug`` prints it), and the exit code says whether the command worked."""
    try:
        code = app(prog_name="vantage", standalone_mode=False)
    except KeyboardInterrupt:
        typer.secho("error: interrupted", fg=typer.colors.RED, err=True)
        code = 130
    except Exception as e:
        if hasattr(e, "show") and hasattr(e, "exit_code"):  # a usage error: click prints it with the usage line
            e.show()
            code = e.exit_code
        elif type(e).__name__ == "Abort":
            typer.secho("error: interrupted", fg=typer.colors.RED, err=True)
            code = 130
        elif _STATE["debug"]:
            raise
        else:
            log = _log_traceback()
            name = type(e).__name__
            message = str(e) if name in _CLEAN_ERRORS else f"{name}: {e}"
            where = f" (traceback: {log}; --debug prints it)" if log else " (--debug prints the traceback)"
            first = message.splitlines()[0] if message else name
            typer.secho(f"error: {first}{where}", fg=typer.colors.RED, err=True)
            code = 1
    sys.exit(code or 0)


if __name__ == "__main__":
    sys.exit(main())
