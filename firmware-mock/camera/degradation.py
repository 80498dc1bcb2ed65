"""How far a camera frame falls short of a clean, square-on shot.

Each knob is zero for a clean frame. Geometric knobs (rotation, perspective, occlusion) draw a value
per package, uniformly up to the given maximum; blur and noise apply to the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Degradation"]


@dataclass(frozen=True)
class Degradation:
    """Blur, noise, rotation, perspective and occlusion for `render_frame`."""

    blur: float = 0.0
    """Gaussian blur sigma over the whole frame, in pixels (defocus, condensation); about 1.5 is soft."""
    noise: float = 0.0
    """Standard deviation of Gaussian sensor noise, in 8-bit grey levels; about 12 is grainy."""
    rotation: float = 0.0
    """Largest in-plane tilt of a package, in degrees, either way."""
    perspective: float = 0.0
    """Largest keystone of a package turned away from the camera, as a fraction of its size (0-0.4)."""
    occlusion: float = 0.0
    """Largest fraction of a code's area hidden behind a blot (sticker, smudge, a neighbour's corner), 0-1."""

    def __post_init__(self) -> None:
        limits = {"blur": 10.0, "noise": 100.0, "rotation": 45.0, "perspective": 0.4, "occlusion": 1.0}
        for name, upper in limits.items():
            value = getattr(self, name)
            if not 0.0 <= value <= upper:
                raise ValueError(f"Degradation.{name} must be within 0..{upper}, got {value}")
