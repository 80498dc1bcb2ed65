"""Emulated interior camera: renders seeded 1280x720 frames of shelves holding GS1-labelled packages.

`render_frame` lays packages out in order (the label-reading test set); `render_grid` draws a
compartment's fixed slot grid, which is what the emulated fridge's cameras show.

Each package's label carries either a GS1 Digital Link URI in a QR code or GS1 element strings in a
DataMatrix. Frames can be degraded (blur, noise, rotation, perspective, occlusion), and labels can be
misprinted on purpose (`Package.fault`) so readers can be tested against ground truth.
"""

from .catalog import sample_packages
from .degradation import Degradation
from .frame import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    MAX_GRID_COLUMNS,
    MAX_GRID_SHELVES,
    MAX_PACKAGES,
    render_frame,
    render_grid,
)
from .package import CodeKind, ExpiryKind, LabelFault, Package
from .payload import digital_link_uri, element_string_hri

__all__ = [
    "FRAME_HEIGHT",
    "FRAME_WIDTH",
    "MAX_GRID_COLUMNS",
    "MAX_GRID_SHELVES",
    "MAX_PACKAGES",
    "CodeKind",
    "Degradation",
    "ExpiryKind",
    "LabelFault",
    "Package",
    "digital_link_uri",
    "element_string_hri",
    "render_frame",
    "render_grid",
    "sample_packages",
]
