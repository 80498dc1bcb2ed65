"""What can go wrong while rendering media, as one small hierarchy.

    MediaError (ValueError)          a poster or video cannot be made from what was given
     +-- FontNotFound                 no font that can draw Chinese is installed
     +-- SpecError                    a spec asks for something out of range (size, duration, ...)

Both are `ValueError`s, so a caller that turns bad input into a clear rejection catches them
without knowing this module.
"""

from __future__ import annotations

__all__ = ["FontNotFound", "MediaError", "SpecError"]


class MediaError(ValueError):
    """A poster or video cannot be made from what was given."""


class FontNotFound(MediaError):
    """No font that can draw Chinese text was found (see `freshtap.media.fonts`)."""


class SpecError(MediaError):
    """A spec asks for something out of range."""
