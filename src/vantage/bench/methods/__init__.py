"""The built-in method plug-ins; importing this package registers them (see vantage.bench.plugin)."""

from vantage.bench.methods.action import ActionBenchConfig, ActionMethod
from vantage.bench.methods.data import DataSuite
from vantage.bench.methods.ovt import OVTBenchConfig, OVTMethod
from vantage.bench.methods.pose_ssl import PoseSSLBenchConfig, PoseSSLMethod
from vantage.bench.methods.trl3d import TRLBenchConfig, TRLMethod
from vantage.bench.methods.video_align import AlignBenchConfig, VideoAlignMethod

__all__ = ["ActionBenchConfig", "ActionMethod", "AlignBenchConfig", "DataSuite", "OVTBenchConfig", "OVTMethod",
           "PoseSSLBenchConfig", "PoseSSLMethod", "TRLBenchConfig", "TRLMethod", "VideoAlignMethod"]  # fmt: skip
