"""Emulated interior camera: renders seeded 1280x720 frames of shelves holding GS1-labelled packages.

Each package's label carries either a GS1 Digital Link URI in a QR code or GS1 element strings in a
DataMatrix. Frames can be degraded (blur, noise, rotation, perspective, occlusion), and labels can be
misprinted on purpose (`Package.fault`) so readers can be tested against ground truth.
"""

from .catalog import sample_packages
from .degradation import Degradation
from .frame import FRAME_HEIGHT, FRAME_WIDTH, MAX_PACKAGES, render_frame
from .package import CodeKind, ExpiryKind, LabelFault, Package
from .payload import digital_link_uri, element_string_hri

__all__ = [
    "FRAME_HEIGHT",
    "FRAME_WIDTH",
    "MAX_PACKAGES",
    "CodeKind",
    "Degradation",
    "ExpiryKind",
    "LabelFault",
    "Package",
    "digital_link_uri",
    "element_string_hri",
    "render_frame",
    "sample_packages",
]
