"""Stroke replay: a video that draws a finished drawing's strokes one by one (the CLIPDraw
notebook's video), written as MP4 or GIF by :class:`~clipdraw.drawing.VideoRecorder`.

Frame ``k`` shows the background and the first ``k`` shapes (one SVG ``<path>`` each, in paint
order), so a drawing of ``N`` shapes gives ``N + 1`` frames. A GIF keeps the time of every
frame but stores identical neighbours once (Pillow merges them): a stroke that changes nothing
shows as a longer pause, not as a frame of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
from torch import Tensor

from clipdraw.prune import shape_index
from clipdraw.render import render
from clipdraw.scene import Scene

__all__ = ["REPLAY_FPS", "replay_frames", "save_replay"]

#: Frames (strokes) per second of a replay.
REPLAY_FPS = 20
#: Frames rendered at once, at most this many pixels together.
_PIXELS_PER_CHUNK = 2**22


@torch.no_grad()
def replay_frames(scene: Scene, *, scale: float = 1.0) -> Iterator[Tensor]:
    """Canvas 0 of ``scene`` drawn shape by shape: ``N + 1`` straight-alpha RGBA images.

    Shape:
        - Output: each :math:`(4, H \\cdot scale, W \\cdot scale)`

    Example:
        >>> from clipdraw import Scene
        >>> line = torch.tensor([[[1.0, 2], [2, 2], [3, 2], [4, 2]]] * 2)
        >>> scene = Scene.create(line, torch.tensor([1, 1]), 5, 4, stroke_width=2.0,
        ...                      stroke_color=torch.tensor([0.0, 0, 0, 1]))
        >>> [float(frame[3].sum()) > 0 for frame in replay_frames(scene.replace(
        ...     background=torch.zeros(1, 4)))]
        [False, True, True]
    """
    scene = scene[0].detach()
    shapes = shape_index(scene.compound[0])
    total = int(shapes[-1]) + 1 if len(shapes) else 0
    pixels = max(1, round(scene.width * scale) * round(scene.height * scale))
    chunk = max(1, _PIXELS_PER_CHUNK // pixels)
    for first in range(0, total + 1, chunk):
        shown = torch.arange(first, min(first + chunk, total + 1), device=shapes.device)
        drawn = shapes[None] < shown[:, None]  # (C, N): frame c shows shapes below first + c
        count = len(shown)
        frames = scene.map_tensors(lambda t, count=count: t.expand(count, *t.shape[1:]))
        frames = frames.replace(num_segments=torch.where(drawn, frames.num_segments, 0))
        yield from render(frames, scale=scale)


def save_replay(scene: Scene, path: str | os.PathLike, *, fps: int = REPLAY_FPS,
                scale: float = 1.0) -> int:
    """Write canvas 0 of ``scene`` drawn shape by shape to ``path`` (``.mp4`` needs
    imageio-ffmpeg, ``.gif`` nothing more), atomically. Returns the number of frames."""
    from clipdraw.drawing import VideoRecorder

    video = VideoRecorder(path, fps=fps)
    try:
        for frame in replay_frames(scene, scale=scale):
            video.add_frame(frame)
    finally:
        video.close()
    return video.frames
