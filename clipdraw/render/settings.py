"""The torch renderer's tuning constants, as data in one place."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["RenderSettings"]


@dataclass(frozen=True)
class RenderSettings:
    """Tuning constants of the pure-PyTorch renderer (pytorch3d's ``RasterizationSettings``).

    The defaults are what every test, figure and benchmark of the renderer uses. The first group
    trades accuracy for speed and changes the pixels; the second only splits or sizes the
    renderer's work and leaves the pixels bit for bit the same, and the gradients too except
    where noted.

    Changes the output:
        subsamples: sub-pixels per side where a pixel is supersampled (the inner corners of
            joins, the small round ends of thin strokes, fill corners).
        small_radius: strokes whose half-width is below this (pixels) get their round ends
            and joins supersampled.
        stroke_flatness: strokes are cut into straight pieces at most this far (pixels) from
            the curve, to find each pixel's nearest segment; distances are then refined on
            the exact curve.
        fill_flatness: the same for fills, whose winding numbers come from the pieces
            themselves, so much finer.
        min_pieces: fewest pieces per segment.
        max_pieces: most pieces per segment.

    Leaves the output unchanged:
        pairs_per_chunk: pixel-piece pairs scanned at once by the search (memory per step).
        entries_per_group: at most this many pixels of layer boxes are searched at once
            (gradients change by float rounding: the groups' parts add up in another order).
        window_steps_per_octave: pieces are scanned in square pixel windows whose sides are
            rounded up to this many steps per octave (a power of two), so few window sizes
            waste little.
        headroom: a :class:`~clipdraw.render.RenderPlan`'s capacities are the measured
            lengths times this, so that lists can grow between measurements.
        slack: and this many entries more, so that short lists can grow too.

    Examples:
        >>> from clipdraw.render import RenderSettings
        >>> RenderSettings().subsamples
        4
        >>> RenderSettings(pairs_per_chunk=1 << 16).replace(headroom=2.0).headroom
        2.0
    """

    subsamples: int = 4
    small_radius: float = 3.0
    stroke_flatness: float = 0.5
    fill_flatness: float = 0.05
    min_pieces: int = 2
    max_pieces: int = 256
    pairs_per_chunk: int = 1 << 21
    entries_per_group: int = 1 << 23
    window_steps_per_octave: int = 8
    headroom: float = 1.5
    slack: int = 16

    def __post_init__(self) -> None:
        positive = ("subsamples", "stroke_flatness", "fill_flatness", "min_pieces",
                    "pairs_per_chunk", "entries_per_group", "window_steps_per_octave")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_pieces < self.min_pieces:
            raise ValueError(f"max_pieces must be at least min_pieces ({self.min_pieces}), "
                             f"got {self.max_pieces}")
        steps = self.window_steps_per_octave
        if steps & (steps - 1):
            raise ValueError(f"window_steps_per_octave must be a power of two, got {steps}")
        if not self.headroom >= 1:
            raise ValueError(f"headroom must be at least 1, got {self.headroom}")
        for name in ("small_radius", "slack"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")

    def replace(self, **changes) -> RenderSettings:
        """A copy with some settings changed."""
        return replace(self, **changes)
