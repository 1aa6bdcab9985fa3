"""The built-in method plug-ins: every module of this package is imported, which registers its plug-in (see
vantage.bench.plugin), so a new built-in method is one new module here and no edit of this file."""

import importlib
import pkgutil

from vantage.bench.methods.action import ActionBenchConfig, ActionMethod
from vantage.bench.methods.data import DataSuite
from vantage.bench.methods.ovt import OVTBenchConfig, OVTMethod
from vantage.bench.methods.pose_ssl import PoseSSLBenchConfig, PoseSSLMethod
from vantage.bench.methods.trl3d import TRLBenchConfig, TRLMethod
from vantage.bench.methods.video_align import AlignBenchConfig, VideoAlignMethod

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ActionBenchConfig", "ActionMethod", "AlignBenchConfig", "DataSuite", "OVTBenchConfig", "OVTMethod",
           "PoseSSLBenchConfig", "PoseSSLMethod", "TRLBenchConfig", "TRLMethod", "VideoAlignMethod"]  # fmt: skip
