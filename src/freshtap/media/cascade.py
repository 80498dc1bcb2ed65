"""A Haar cascade evaluator: OpenCV's trained face detector, run without `cv2.CascadeClassifier`.

OpenCV 5 moved `CascadeClassifier` and its trained models out of the main wheel (into contrib's
`xobjdetect`; `cv2.data.haarcascades` is empty in opencv-python-headless 5.0.0.93), and the YuNet
detector it kept needs an ONNX model the wheel does not ship. So this module evaluates OpenCV's
own `haarcascade_frontalface_default.xml` (Rainer Lienhart's stump-based 24x24 frontal face model,
Intel License Agreement, shipped as `frontalface_cascade.json`, a lossless transcription made by
`cascade_from_xml`) the way OpenCV's `CascadeClassifier::detectMultiScale` does:

- an image pyramid (the window stays 24x24, the image shrinks by `scale_factor` per level),
  windows every 2 pixels while the scale is at most 2, every pixel beyond;
- integral images of the pixels and their squares; each window's feature values are divided by
  `area * stddev` of its inner 22x22 rectangle (OpenCV's variance normalisation);
- each stage sums its stumps' leaf values (left when `value < threshold`) and rejects a window
  whose sum falls below the stage threshold;
- hits are grouped like `cv::groupRectangles` (eps 0.2, `min_neighbors`), and a group inside a
  stronger one is dropped.

Numpy, vectorised over the windows still alive: most windows die in the first stages.
Only stump cascades of upright features (the frontal-face models) are supported.
"""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from .drawing import Box
from .errors import MediaError

__all__ = ["CASCADE_FILE", "HaarCascade", "HaarStage", "cascade_from_xml", "detect", "group_boxes", "load_cascade"]

CASCADE_FILE = Path(__file__).with_name("frontalface_cascade.json")
_MAX_GATHER = 300_000  # elements per vectorised gather, to bound memory


@dataclass(frozen=True)
class HaarStage:
    threshold: float
    feature: NDArray[np.int64]
    """Per stump: which feature it reads."""
    split: NDArray[np.float64]
    left: NDArray[np.float64]
    right: NDArray[np.float64]


@dataclass(frozen=True)
class HaarCascade:
    width: int
    height: int
    rects: NDArray[np.int64]
    """(features, 3, 4): x, y, w, h of up to three rectangles per feature (unused: all zero)."""
    weights: NDArray[np.float64]
    """(features, 3): each rectangle's weight (0 for unused)."""
    stages: tuple[HaarStage, ...]
    license: str = ""


def _numbers(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


def cascade_from_xml(text: str) -> HaarCascade:
    """Read a cascade in OpenCV's XML format (`opencv_storage/cascade`, BOOST, HAAR, stumps)."""
    root = ET.fromstring(text)  # noqa: S314 - a model file the developer chose, not user input
    node = root.find("cascade")
    if node is None or node.findtext("featureType") != "HAAR" or node.findtext("stageType") != "BOOST":
        raise MediaError("not an OpenCV BOOST/HAAR cascade in the new XML format")
    width, height = int(node.findtext("width") or 0), int(node.findtext("height") or 0)
    features = node.findall("features/_")
    rects = np.zeros((len(features), 3, 4), dtype=np.int64)
    weights = np.zeros((len(features), 3), dtype=np.float64)
    for index, feature in enumerate(features):
        if (feature.findtext("tilted") or "0").strip() not in ("0", ""):
            raise MediaError("tilted Haar features are not supported")
        for slot, rect in enumerate(feature.findall("rects/_")):
            x, y, w, h, weight = _numbers(rect.text)
            rects[index, slot] = (int(x), int(y), int(w), int(h))
            weights[index, slot] = weight
    stages = []
    for stage in node.findall("stages/_"):
        feature_ids, splits, lefts, rights = [], [], [], []
        for weak in stage.findall("weakClassifiers/_"):
            nodes = _numbers(weak.findtext("internalNodes"))
            leaves = _numbers(weak.findtext("leafValues"))
            if len(nodes) != 4 or len(leaves) != 2:
                raise MediaError("only stump cascades (one split per weak classifier) are supported")
            feature_ids.append(int(nodes[2]))
            splits.append(nodes[3])
            lefts.append(leaves[0])
            rights.append(leaves[1])
        stages.append(HaarStage(
            threshold=float(stage.findtext("stageThreshold") or 0.0),
            feature=np.array(feature_ids, dtype=np.int64),
            split=np.array(splits, dtype=np.float64),
            left=np.array(lefts, dtype=np.float64),
            right=np.array(rights, dtype=np.float64),
        ))
    comment = text[text.find("<!--") + 4:text.find("-->")].strip() if "<!--" in text else ""
    return HaarCascade(width, height, rects, weights, tuple(stages), comment)


def cascade_to_json(cascade: HaarCascade) -> dict[str, Any]:
    """The compact JSON form shipped with the package."""
    return {
        "license": cascade.license,
        "window": [cascade.width, cascade.height],
        "features": [
            [[*map(int, r), float(w)] for r, w in zip(rects, weights, strict=True) if w != 0.0]
            for rects, weights in zip(cascade.rects, cascade.weights, strict=True)
        ],
        "stages": [
            {"threshold": s.threshold, "stumps": [
                [int(f), float(t), float(lf), float(rt)]
                for f, t, lf, rt in zip(s.feature, s.split, s.left, s.right, strict=True)
            ]}
            for s in cascade.stages
        ],
    }


@functools.lru_cache(maxsize=4)
def load_cascade(path: Path = CASCADE_FILE) -> HaarCascade:
    """A cascade from its JSON form (default: OpenCV's frontal face model) or an OpenCV XML file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".xml":
        return cascade_from_xml(text)
    data = json.loads(text)
    features = data["features"]
    rects = np.zeros((len(features), 3, 4), dtype=np.int64)
    weights = np.zeros((len(features), 3), dtype=np.float64)
    for index, feature in enumerate(features):
        for slot, (x, y, w, h, weight) in enumerate(feature):
            rects[index, slot] = (x, y, w, h)
            weights[index, slot] = weight
    stages = tuple(
        HaarStage(
            threshold=float(stage["threshold"]),
            feature=np.array([s[0] for s in stage["stumps"]], dtype=np.int64),
            split=np.array([s[1] for s in stage["stumps"]], dtype=np.float64),
            left=np.array([s[2] for s in stage["stumps"]], dtype=np.float64),
            right=np.array([s[3] for s in stage["stumps"]], dtype=np.float64),
        )
        for stage in data["stages"]
    )
    width, height = data["window"]
    return HaarCascade(int(width), int(height), rects, weights, stages, str(data.get("license", "")))


def _corner_offsets(rects: NDArray[np.int64], stride: int) -> NDArray[np.int64]:
    """(..., 4) flat offsets of each rectangle's corners TL, TR, BL, BR in an integral image."""
    x, y, w, h = rects[..., 0], rects[..., 1], rects[..., 2], rects[..., 3]
    return np.stack([y * stride + x, y * stride + x + w, (y + h) * stride + x, (y + h) * stride + x + w], axis=-1)


_SIGNS = np.array([1.0, -1.0, -1.0, 1.0])


def _windows(cascade: HaarCascade, image: NDArray[np.uint8], step: int) -> NDArray[np.int64]:
    """Top-left corners (flat offsets into the integral image) of the windows that pass every stage."""
    rows, cols = image.shape
    stride = cols + 1
    # int32 sums are exact and fastest while the whole image's sum fits; float64 (exact to 2**53) beyond
    small = rows * cols * 255 < 2**31
    total, squares = cv2.integral2(image, sdepth=cv2.CV_32S if small else cv2.CV_64F, sqdepth=cv2.CV_64F)
    flat = np.asarray(total, np.int32 if small else np.float64).ravel()
    flat_sq = np.asarray(squares, np.float64).ravel()
    ys = np.arange(0, rows - cascade.height + 1, step)
    xs = np.arange(0, cols - cascade.width + 1, step)
    base = (ys[:, None] * stride + xs[None, :]).ravel()

    inner = np.array([1, 1, cascade.width - 2, cascade.height - 2])
    inner_corners = _corner_offsets(inner, stride)
    area = float(inner[2] * inner[3])
    sums = flat[base[:, None] + inner_corners].astype(np.float64) @ _SIGNS
    sq = flat_sq[base[:, None] + inner_corners] @ _SIGNS
    spread = area * sq - sums * sums
    norm = 1.0 / np.where(spread > 0, np.sqrt(np.maximum(spread, 0)), 1.0)

    corners = _corner_offsets(cascade.rects, stride)  # (features, 3, 4)
    for stage in cascade.stages:
        if base.size == 0:
            break
        stage_corners = corners[stage.feature]  # (stumps, 3, 4)
        stage_weights = cascade.weights[stage.feature]  # (stumps, 3)
        score = np.zeros(base.size)
        chunk = max(1, _MAX_GATHER // max(1, stage_corners.size))
        for start in range(0, base.size, chunk):
            part = base[start:start + chunk]
            pixels = flat[part[:, None, None, None] + stage_corners[None]]  # (n, stumps, 3, 4)
            rect_sums = (pixels[..., 0] - pixels[..., 1] - pixels[..., 2] + pixels[..., 3]).astype(np.float64)
            values = np.einsum("nsr,sr->ns", rect_sums, stage_weights) * norm[start:start + chunk, None]
            score[start:start + chunk] = np.where(values < stage.split, stage.left, stage.right).sum(axis=1)
        alive = score >= stage.threshold
        base, norm = base[alive], norm[alive]
    survivors: NDArray[np.int64] = base
    return survivors


def _similar(a: Box, b: Box, eps: float) -> bool:
    delta = eps * (min(a.w, b.w) + min(a.h, b.h)) * 0.5
    return (abs(a.x - b.x) <= delta and abs(a.y - b.y) <= delta
            and abs(a.right - b.right) <= delta and abs(a.bottom - b.bottom) <= delta)


def group_boxes(boxes: list[Box], min_neighbors: int, eps: float = 0.2) -> list[Box]:
    """Clusters of similar boxes with more than `min_neighbors` members, averaged (as `cv::groupRectangles`)."""
    if min_neighbors <= 0:
        return list(boxes)
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if _similar(boxes[i], boxes[j], eps):
                parent[root(i)] = root(j)
    clusters: dict[int, list[Box]] = {}
    for i, box in enumerate(boxes):
        clusters.setdefault(root(i), []).append(box)
    merged = []
    for members in clusters.values():
        n = len(members)
        if n <= min_neighbors:
            continue
        avg = [round(sum(getattr(b, k) for b in members) / n) for k in ("x", "y", "w", "h")]
        merged.append((Box(*avg), n))
    kept = []
    for box, n1 in merged:
        inside_stronger = False
        for other, n2 in merged:
            if other is box:
                continue
            dx, dy = round(other.w * eps), round(other.h * eps)
            if (box.x >= other.x - dx and box.y >= other.y - dy and box.right <= other.right + dx
                    and box.bottom <= other.bottom + dy and (n2 > max(3, n1) or n1 < 3)):
                inside_stronger = True
                break
        if not inside_stronger:
            kept.append(box)
    return sorted(kept, key=lambda b: (b.y, b.x))


def detect(
    cascade: HaarCascade,
    gray: NDArray[np.uint8],
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 3,
    min_size: int = 0,
) -> list[Box]:
    """Boxes (in `gray`'s pixels) where the cascade fires, grouped; like `detectMultiScale`."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise MediaError("detect wants a single-channel uint8 image")
    if scale_factor <= 1.0:
        raise MediaError("scale_factor must be above 1")
    rows, cols = gray.shape
    hits: list[Box] = []
    factor = 1.0
    while True:
        width, height = round(cols / factor), round(rows / factor)
        window_w, window_h = round(cascade.width * factor), round(cascade.height * factor)
        if width < cascade.width or height < cascade.height:
            break
        if window_w >= min_size and window_h >= min_size:
            scaled = gray if factor == 1.0 else cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)
            step = 1 if factor > 2.0 else 2
            stride = width + 1
            for corner in _windows(cascade, np.ascontiguousarray(scaled), step):
                y, x = divmod(int(corner), stride)
                hits.append(Box(round(x * factor), round(y * factor), window_w, window_h))
        factor *= scale_factor
    return group_boxes(hits, min_neighbors)
