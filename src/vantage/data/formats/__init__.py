"""Camera-posed capture formats: nerfstudio / instant-ngp ``transforms.json``, COLMAP sparse models and
CO3D-style annotations, read into :class:`PosedFrame` rows (OpenCV camera-to-world) and written from any
vantage dataset with exact poses."""

from vantage.data.formats.co3d import read_co3d, write_co3d
from vantage.data.formats.colmap import CAMERA_MODELS, read_colmap, write_colmap
from vantage.data.formats.common import ExportObject
from vantage.data.formats.frame import UP_CHOICES, ObjectFrame, PosedFrame, derive_object_frame, fov_deg, rigid
from vantage.data.formats.nerfstudio import read_nerfstudio, write_nerfstudio

READERS = {"nerfstudio": read_nerfstudio, "colmap": read_colmap, "co3d": read_co3d}
WRITERS = {"nerfstudio": write_nerfstudio, "colmap": write_colmap, "co3d": write_co3d}
POSED_FORMATS = tuple(READERS)

__all__ = [
    "CAMERA_MODELS",
    "POSED_FORMATS",
    "READERS",
    "UP_CHOICES",
    "WRITERS",
    "ExportObject",
    "ObjectFrame",
    "PosedFrame",
    "derive_object_frame",
    "fov_deg",
    "read_co3d",
    "read_colmap",
    "read_nerfstudio",
    "rigid",
    "write_co3d",
    "write_colmap",
    "write_nerfstudio",
]
