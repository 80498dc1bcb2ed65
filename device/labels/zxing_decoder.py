"""The real `LabelDecoder`: zxing-cpp finds and decodes QR codes and DataMatrix; OpenCV only prepares pixels.

One pass over the whole frame reads most codes. Codes that zxing-cpp located but could not decode
(blurred, small, noisy) get a second chance: the region around each is cut out, enlarged twice
(cubic), then also sharpened, and decoded again. On a clean frame there are none, so it costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

from .decoder import DecodedSymbol, Image

__all__ = ["ZxingDecoder"]

_FORMATS = zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.DataMatrix])
_MAX_RETRY_REGIONS = 24

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def _grey(image: Image) -> NDArray[np.uint8]:
    if image.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got dtype {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    raise ValueError(f"expected an H x W grey or H x W x 3 BGR image, got shape {image.shape}")


def _box(barcode: zxingcpp.Barcode, scale: float = 1.0, offset: tuple[int, int] = (0, 0)) -> Box:
    p = barcode.position
    xs = [point.x for point in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
    ys = [point.y for point in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
    return (
        int(min(xs) / scale) + offset[0], int(min(ys) / scale) + offset[1],
        int(max(xs) / scale) + offset[0] + 1, int(max(ys) / scale) + offset[1] + 1,
    )


def _centre_inside(box: Box, boxes: Sequence[Box]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in boxes)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _retry_regions(failed: Sequence[Box], decoded: Sequence[Box], shape: tuple[int, ...]) -> list[Box]:
    """Generous regions around located-but-undecoded codes, merged where they overlap."""
    regions: list[Box] = []
    for box in failed:
        if _centre_inside(box, decoded):
            continue
        # a failed find may be one finder pattern of a larger code: look well beyond it
        margin = max(box[2] - box[0], box[3] - box[1], 48)
        grown = (max(box[0] - margin, 0), max(box[1] - margin, 0),
                 min(box[2] + margin, shape[1]), min(box[3] + margin, shape[0]))
        for index, region in enumerate(regions):
            if _overlaps(grown, region):
                regions[index] = (min(grown[0], region[0]), min(grown[1], region[1]),
                                  max(grown[2], region[2]), max(grown[3], region[3]))
                break
        else:
            regions.append(grown)
    return regions[:_MAX_RETRY_REGIONS]


def _as_is(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return grey


def _sharpen(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    soft = cv2.GaussianBlur(grey, (0, 0), 1.0)
    return np.asarray(cv2.addWeighted(grey, 2.0, soft, -1.0, 0), dtype=np.uint8)


def _symbol(barcode: zxingcpp.Barcode) -> DecodedSymbol:
    return DecodedSymbol(text=barcode.text, symbology_identifier=barcode.symbology_identifier)


@dataclass(frozen=True)
class ZxingDecoder:
    """Reads QR codes and DataMatrix with zxing-cpp; stateless, safe to share."""

    retry_undecoded: bool = True
    """Give codes that were located but not decoded a second, enlarged look."""
    try_invert: bool = True
    """Also look for light-on-dark codes (costs roughly a third more time)."""

    def _read(self, grey: NDArray[np.uint8], *, return_errors: bool = False) -> list[zxingcpp.Barcode]:
        return zxingcpp.read_barcodes(
            grey, formats=_FORMATS, text_mode=zxingcpp.TextMode.Plain, try_invert=self.try_invert,
            return_errors=return_errors,
        )

    def decode(self, image: Image) -> list[DecodedSymbol]:
        grey = _grey(image)
        first = self._read(grey, return_errors=self.retry_undecoded)
        symbols = [_symbol(b) for b in first if b.valid]
        decoded = [_box(b) for b in first if b.valid]
        failed = [_box(b) for b in first if not b.valid]
        for x0, y0, x1, y1 in _retry_regions(failed, decoded, grey.shape):
            crop = grey[y0:y1, x0:x1]
            for prepare in (_as_is, _sharpen):
                resized = cv2.resize(prepare(crop), None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
                enlarged = np.asarray(resized, dtype=np.uint8)
                found = [b for b in self._read(enlarged) if b.valid]
                fresh = [b for b in found if not _centre_inside(_box(b, 2.0, (x0, y0)), decoded)]
                for barcode in fresh:
                    symbols.append(_symbol(barcode))
                    decoded.append(_box(barcode, 2.0, (x0, y0)))
                if found:
                    break
        return symbols
