"""Module matrices of the 2-D codes on labels: segno draws QR codes, zxing-cpp GS1 DataMatrix."""

from __future__ import annotations

import numpy as np
import segno
import zxingcpp
from numpy.typing import NDArray

from .package import Package
from .payload import digital_link_uri, element_string_hri

__all__ = ["QUIET_ZONE_MODULES", "module_matrix"]

QUIET_ZONE_MODULES = {"digital_link_qr": 4, "gs1_datamatrix": 2}
"""Quiet zone each symbology needs around the symbol, in modules (QR: 4, DataMatrix: 1, given 2)."""


def module_matrix(package: Package) -> NDArray[np.bool_]:
    """The code's modules without quiet zone, `True` where a module is dark."""
    if package.code == "digital_link_qr":
        qr = segno.make_qr(digital_link_uri(package), error="m")
        dark: NDArray[np.bool_] = np.array([list(row) for row in qr.matrix], dtype=np.uint8) == 1
        return dark
    # square symbols, as food labels print them; zxing-cpp would pick a long 8xN rectangle for short data
    barcode = zxingcpp.create_barcode(
        element_string_hri(package), zxingcpp.BarcodeFormat.DataMatrix, gs1=True, forceSquare=True
    )
    if not barcode.valid:
        raise ValueError(f"zxing-cpp could not encode {element_string_hri(package)!r}")
    pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
    dark_pixels: NDArray[np.bool_] = pixels < 128
    return dark_pixels
