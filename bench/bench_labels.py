"""Benchmark: time to read every label in a 1280x720 frame holding 12 GS1 labels.

Frames come from the emulated camera (seeded; half Digital Link QR, half GS1 DataMatrix). For each
condition it prints the median and p95 of `read_labels` per frame, the share of labels read, and the
ratio to a baseline measured in the same run on the same frames: zxing-cpp decoding one label's crop
(the code plus a margin of its own size) on its own. The ratio says how many single-label decodes a
whole frame costs, which carries across machines better than milliseconds do.

    python bench/bench_labels.py [--frames 50] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import date

import numpy as np
import zxingcpp
from harness.report import Figure, report
from numpy.typing import NDArray

from freshtap.device.labels import LabelRead, ZxingDecoder, read_labels
from freshtap.firmware_mock.camera import Degradation, Package, render_frame, sample_packages

TODAY = date(2026, 11, 23)
CONDITIONS = {
    "clean": Degradation(),
    "blur 1.0, noise 8, perspective 0.15": Degradation(blur=1.0, noise=8.0, perspective=0.15),
    "blur 1.2, noise 10, rotation 12, perspective 0.2": Degradation(
        blur=1.2, noise=10.0, rotation=12.0, perspective=0.2
    ),
}
DECODERS = {
    "ZxingDecoder()": ZxingDecoder(),
    "try_invert=False": ZxingDecoder(try_invert=False),
}


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of `repeat` runs, in milliseconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def single_label_crop(image: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
    """The first decodable code in `image`, with a margin as wide as the code, as its own image."""
    grey = image.mean(axis=2).astype(np.uint8)
    for barcode in zxingcpp.read_barcodes(grey):
        p = barcode.position
        xs = [q.x for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        ys = [q.y for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        size = max(max(xs) - min(xs), max(ys) - min(ys))
        x0, y0 = max(min(xs) - size // 2, 0), max(min(ys) - size // 2, 0)
        return image[y0:max(ys) + size // 2, x0:max(xs) + size // 2].copy()
    return None


def truth(package: Package) -> LabelRead:
    kind = package.expiry_kind if package.expiry is not None else None
    return LabelRead(gtin=package.gtin, label_expiry=package.expiry, expiry_kind=kind, batch=package.batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="one frame: a seconds-long run that proves the harness")
    parser.add_argument("--json", dest="json_out", default=None, help="also append each result as a JSON line here")
    args = parser.parse_args()
    if args.quick:
        args.frames = 1

    print(f"read_labels on {args.frames} frames of 1280x720 with 12 labels each (best of 3 per frame)")
    print("baseline: the same decoder on a single-label crop (code plus margin) from the same frames")
    for name, degrade in CONDITIONS.items():
        frames = []
        for seed in range(args.frames):
            packages = sample_packages(9000 + seed, 12, today=TODAY)
            frames.append((packages, render_frame(packages, seed, degrade)))
        print(name)
        for label, decoder in DECODERS.items():
            frame_ms: list[float] = []
            crop_ms: list[float] = []
            read = expected = 0
            for packages, image in frames:
                frame_ms.append(timed(functools.partial(read_labels, image, decoder)))
                reads = Counter(read_labels(image, decoder))
                read += sum((reads & Counter(map(truth, packages))).values())
                expected += len(packages)
                crop = single_label_crop(image)
                if crop is not None:
                    crop_ms.append(timed(functools.partial(decoder.decode, crop)))
            median, tail = statistics.median(frame_ms), p95(frame_ms)
            baseline = statistics.median(crop_ms)
            print(
                f"  {label:22s} median {median:6.2f} ms  p95 {tail:6.2f} ms  read {read}/{expected}  "
                f"single-label crop {baseline:5.2f} ms  frame/crop {median / baseline:5.1f}x"
            )
            if label == "ZxingDecoder()":
                report(
                    Figure(
                        "labels", name, "read_labels median per 1280x720 frame", median, "ms",
                        "single-label crop", baseline, target="<= 10 ms median per frame", met=median <= 10.0,
                        extra={"p95_ms": tail, "read": read, "expected": expected, "frames": args.frames},
                    ),
                    args.json_out,
                )


if __name__ == "__main__":
    main()
