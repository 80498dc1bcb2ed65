"""Label reader: finds GS1 QR codes and DataMatrix in camera frames and reports GTIN, date and batch.

`read_labels(image)` for a frame, `scan_files(paths)` for the `freshtap device scan` command. Every
report has a GTIN whose check digit is right and a real calendar date; anything else is not reported.
Decoding sits behind the `LabelDecoder` protocol (`ZxingDecoder` is the real one, `FixedDecoder` a
test double); interpretation of the decoded text (`interpret`) is pure.
"""

from .decoder import DecodedSymbol, FixedDecoder, Image, LabelDecoder
from .gs1 import interpret, interpret_text
from .model import ExpiryKind, LabelJson, LabelRead
from .reader import read_labels
from .scan import ScanEntry, scan_files
from .zxing_decoder import ZxingDecoder

__all__ = [
    "DecodedSymbol",
    "ExpiryKind",
    "FixedDecoder",
    "Image",
    "LabelDecoder",
    "LabelJson",
    "LabelRead",
    "ScanEntry",
    "ZxingDecoder",
    "interpret",
    "interpret_text",
    "read_labels",
    "scan_files",
]
