"""Multi-view data: building dataset folders, verifying them, and reading them as torch Datasets.

Every name is imported from its module on first use, so a command loads only what it needs: building data
never loads torch, and importing, verifying or exporting a folder never loads the renderer (trimesh, pybullet).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "EXPORT_CARD": "vantage.data.export",
    "ExportResult": "vantage.data.export",
    "export_dataset": "vantage.data.export",
    "RESIZE_MODES": "vantage.data.importer",
    "BuildConfig": "vantage.data.build",
    "BuildError": "vantage.data.build",
    "BuildResult": "vantage.data.build",
    "build_dataset": "vantage.data.build",
    "dataset_dir": "vantage.data.build",
    "load_build_config": "vantage.data.build",
    "parse_shard": "vantage.data.build",
    "plan_objects": "vantage.data.build",
    "resolve_data_root": "vantage.data.build",
    "MVCapRow": "vantage.data.captions",
    "load_captioner": "vantage.data.captions",
    "read_mvcap": "vantage.data.captions",
    "write_mvcap": "vantage.data.captions",
    "CONVENTIONS": "vantage.data.importer",
    "ImportResult": "vantage.data.importer",
    "import_dataset": "vantage.data.importer",
    "read_import_table": "vantage.data.importer",
    "contact_sheet": "vantage.data.preview",
    "SAMPLE_SYNSETS": "vantage.data.samples",
    "render_turntable": "vantage.data.samples",
    "write_mesh_folder": "vantage.data.samples",
    "DatasetError": "vantage.data.schema",
    "ViewRecord": "vantage.data.schema",
    "inside": "vantage.data.schema",
    "load_card": "vantage.data.schema",
    "load_records": "vantage.data.schema",
    "triplet_sequence": "vantage.data.schema",
    "Problem": "vantage.data.verify",
    "summarize": "vantage.data.verify",
    "summary_text": "vantage.data.verify",
    "verify_dataset": "vantage.data.verify",
    "ViewSetConfig": "vantage.data.views",
    "ViewSpec": "vantage.data.views",
    "caption_for": "vantage.data.views",
    "view_phrase": "vantage.data.views",
    "views_for": "vantage.data.views",
    "ACTION_PROTOCOLS": "vantage.data.actions",
    "ActionClipDataset": "vantage.data.actions",
    "ActionSplit": "vantage.data.actions",
    "action_split": "vantage.data.actions",
    "camera_distances": "vantage.data.actions",
    "CaptionPairDataset": "vantage.data.read",
    "ClipDataset": "vantage.data.clips",
    "EpochSampler": "vantage.data.sampling",
    "KeyedAugment": "vantage.data.sampling",
    "rank_world": "vantage.data.sampling",
    "ImageTextDataset": "vantage.data.read",
    "MultiViewDataset": "vantage.data.read",
    "ObjectGroupDataset": "vantage.data.read",
    "TripletDataset": "vantage.data.read",
    "TurntableDataset": "vantage.data.read",
    "filter_records": "vantage.data.read",
    "hf_data_files": "vantage.data.read",
    "load_turntable_records": "vantage.data.read",
    "load_real_records": "vantage.data.read",
    "ssl_augmentation": "vantage.data.transforms",
    "to_tensor": "vantage.data.transforms",
}

if TYPE_CHECKING:
    from vantage.data.actions import ACTION_PROTOCOLS, ActionClipDataset, ActionSplit, action_split, camera_distances
    from vantage.data.build import (
        BuildConfig,
        BuildError,
        BuildResult,
        build_dataset,
        dataset_dir,
        load_build_config,
        parse_shard,
        plan_objects,
        resolve_data_root,
    )
    from vantage.data.captions import MVCapRow, load_captioner, read_mvcap, write_mvcap
    from vantage.data.clips import ClipDataset
    from vantage.data.export import EXPORT_CARD, ExportResult, export_dataset
    from vantage.data.importer import CONVENTIONS, RESIZE_MODES, ImportResult, import_dataset, read_import_table
    from vantage.data.preview import contact_sheet
    from vantage.data.read import (
        CaptionPairDataset,
        ImageTextDataset,
        MultiViewDataset,
        ObjectGroupDataset,
        TripletDataset,
        TurntableDataset,
        filter_records,
        hf_data_files,
        load_real_records,
        load_turntable_records,
    )
    from vantage.data.samples import SAMPLE_SYNSETS, render_turntable, write_mesh_folder
    from vantage.data.sampling import EpochSampler, KeyedAugment, rank_world
    from vantage.data.schema import DatasetError, ViewRecord, inside, load_card, load_records, triplet_sequence
    from vantage.data.transforms import ssl_augmentation, to_tensor
    from vantage.data.verify import Problem, summarize, summary_text, verify_dataset
    from vantage.data.views import ViewSetConfig, ViewSpec, caption_for, view_phrase, views_for


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vantage.data' has no attribute {name!r}")


__all__ = [
    "ACTION_PROTOCOLS",
    "CONVENTIONS",
    "EXPORT_CARD",
    "RESIZE_MODES",
    "SAMPLE_SYNSETS",
    "ActionClipDataset",
    "ActionSplit",
    "BuildConfig",
    "BuildError",
    "BuildResult",
    "CaptionPairDataset",
    "ClipDataset",
    "DatasetError",
    "EpochSampler",
    "ExportResult",
    "ImageTextDataset",
    "ImportResult",
    "KeyedAugment",
    "MVCapRow",
    "MultiViewDataset",
    "ObjectGroupDataset",
    "Problem",
    "TripletDataset",
    "TurntableDataset",
    "ViewRecord",
    "ViewSetConfig",
    "ViewSpec",
    "action_split",
    "build_dataset",
    "camera_distances",
    "caption_for",
    "contact_sheet",
    "dataset_dir",
    "export_dataset",
    "filter_records",
    "hf_data_files",
    "import_dataset",
    "inside",
    "load_build_config",
    "load_captioner",
    "load_card",
    "load_real_records",
    "load_records",
    "load_turntable_records",
    "parse_shard",
    "plan_objects",
    "rank_world",
    "read_import_table",
    "read_mvcap",
    "render_turntable",
    "resolve_data_root",
    "ssl_augmentation",
    "summarize",
    "summary_text",
    "to_tensor",
    "triplet_sequence",
    "verify_dataset",
    "view_phrase",
    "views_for",
    "write_mesh_folder",
    "write_mvcap",
]
