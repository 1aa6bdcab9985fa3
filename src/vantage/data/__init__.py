"""Multi-view data: building dataset folders, verifying them, and reading them as torch Datasets."""

from vantage.data.build import (
    BuildConfig,
    BuildResult,
    build_dataset,
    dataset_dir,
    load_build_config,
    plan_objects,
)
from vantage.data.preview import contact_sheet
from vantage.data.read import (
    ImageTextDataset,
    MultiViewDataset,
    ObjectGroupDataset,
    TripletDataset,
    TurntableDataset,
    filter_records,
    hf_data_files,
    load_turntable_records,
)
from vantage.data.schema import DatasetError, ViewRecord, load_card, load_records
from vantage.data.transforms import ssl_augmentation, to_tensor
from vantage.data.verify import Problem, summarize, verify_dataset
from vantage.data.views import ViewSetConfig, ViewSpec, caption_for, view_phrase, views_for

__all__ = [
    "BuildConfig",
    "BuildResult",
    "DatasetError",
    "ImageTextDataset",
    "MultiViewDataset",
    "ObjectGroupDataset",
    "Problem",
    "TripletDataset",
    "TurntableDataset",
    "ViewRecord",
    "ViewSetConfig",
    "ViewSpec",
    "build_dataset",
    "caption_for",
    "contact_sheet",
    "dataset_dir",
    "filter_records",
    "hf_data_files",
    "load_build_config",
    "load_card",
    "load_records",
    "load_turntable_records",
    "plan_objects",
    "ssl_augmentation",
    "summarize",
    "to_tensor",
    "verify_dataset",
    "view_phrase",
    "views_for",
]
