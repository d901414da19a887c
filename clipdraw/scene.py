"""The scene: a batch of canvases of Bézier paths, the one data structure every stage shares.

Convention:
    Coordinates are SVG user units with the origin at the top-left corner of the canvas, x to the
    right and y down; at render scale 1 one unit is one pixel and pixel centres sit at +0.5.
    Stroke widths are full SVG widths (not diffvg's half-widths). Colours are straight
    (non-premultiplied) RGBA in [0, 1], sRGB. Paths are painted in document order (index order),
    each path's fill before its stroke.

Paths are chains of cubic segments that share end points: path ``n`` of canvas ``b`` uses
``points[b, n, : 3 * k + 1]`` with ``k = num_segments[b, n]`` (segment ``s`` has control points
``3s .. 3s + 3``). A closed path of ``k`` segments uses ``3 * k`` points; its last segment ends at
point 0. Paths whose ``compound`` index equals that of the previous path are sub-paths of one
compound shape (a glyph with a hole): their fills share one winding number and their strokes are
one union. (``shape`` always means a tensor's shape.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import torch
from torch import Tensor

__all__ = ["FillRule", "LineCap", "LineJoin", "Scene"]


class FillRule(IntEnum):
    """SVG ``fill-rule``."""

    NONZERO = 0
    EVENODD = 1


class LineCap(IntEnum):
    """SVG ``stroke-linecap``."""

    BUTT = 0
    ROUND = 1
    SQUARE = 2


class LineJoin(IntEnum):
    """SVG ``stroke-linejoin`` (SVG 1.1: a miter longer than ``miter_limit`` stroke widths is
    drawn bevelled). ``ROUND`` is 0, so zero padding draws the round joins of our drawings."""

    ROUND = 0
    MITER = 1
    BEVEL = 2


#: SVG's initial ``stroke-miterlimit``: miters up to four stroke widths long.
DEFAULT_MITER_LIMIT = 4.0

_TENSOR_FIELDS = (
    "points",
    "num_segments",
    "closed",
    "stroke_width",
    "stroke_color",
    "fill_color",
    "stroked",
    "filled",
    "fill_rule",
    "linecap",
    "compound",
    "background",
    "linejoin",
    "miter_limit",
)


@dataclass
class Scene:
    """B canvases of ``width`` x ``height`` SVG units, each holding N paths.

    Args:
        width: canvas width in SVG units (pixels at render scale 1).
        height: canvas height in SVG units.
        points: control points, padded per path to P = 3 * max_segments + 1.
        num_segments: cubic segments per path; 0 makes a path empty.
        closed: whether a path's last segment returns to its first point.
        stroke_width: full stroke width in SVG units.
        stroke_color: straight RGBA stroke colour.
        fill_color: straight RGBA fill colour.
        stroked: whether a path is stroked.
        filled: whether a path is filled (open paths are filled as if closed, as in SVG).
        fill_rule: :class:`FillRule` values.
        linecap: :class:`LineCap` values.
        compound: compound-shape index, non-decreasing along N (equal neighbours are sub-paths
            of one compound shape).
        background: straight RGBA background colour; alpha 0 is transparent.
        linejoin: :class:`LineJoin` values, where segments of a path meet (closed paths also
            at their start point).
        miter_limit: the longest miter join, in stroke widths (at least 1); longer ones are
            bevelled.

    Shape:
        - points: :math:`(B, N, P, 2)` float
        - num_segments, fill_rule, linecap, compound, linejoin: :math:`(B, N)` long
        - closed, stroked, filled: :math:`(B, N)` bool
        - stroke_width, miter_limit: :math:`(B, N)` float
        - stroke_color, fill_color: :math:`(B, N, 4)` float
        - background: :math:`(B, 4)` float

    Examples:
        >>> import torch
        >>> from clipdraw import Scene
        >>> curve = torch.tensor([[[2.0, 8], [6, 2], [10, 14], [14, 8]]])  # one cubic segment
        >>> scene = Scene.create(curve, torch.tensor([1]), 16, 16, stroke_width=2.0,
        ...                      stroke_color=torch.tensor([0.0, 0, 0, 1]))
        >>> scene.batch_size, scene.num_paths, tuple(scene.points.shape)
        (1, 1, (1, 1, 4, 2))
        >>> Scene.concat([scene, scene]).validate().batch_size
        2
    """

    width: int
    height: int
    points: Tensor
    num_segments: Tensor
    closed: Tensor
    stroke_width: Tensor
    stroke_color: Tensor
    fill_color: Tensor
    stroked: Tensor
    filled: Tensor
    fill_rule: Tensor
    linecap: Tensor
    compound: Tensor
    background: Tensor
    linejoin: Tensor
    miter_limit: Tensor

    @classmethod
    def create(
        cls,
        points: Tensor,
        num_segments: Tensor,
        width: int,
        height: int,
        *,
        stroke_width: Tensor | float | None = None,
        stroke_color: Tensor | None = None,
        fill_color: Tensor | None = None,
        closed: Tensor | bool = False,
        fill_rule: Tensor | FillRule = FillRule.NONZERO,
        linecap: Tensor | LineCap = LineCap.ROUND,
        compound: Tensor | None = None,
        background: Tensor | Sequence[float] | None = (1.0, 1.0, 1.0, 1.0),
        linejoin: Tensor | LineJoin = LineJoin.ROUND,
        miter_limit: Tensor | float = DEFAULT_MITER_LIMIT,
    ) -> Scene:
        """Build a scene, broadcasting scalars; a path is stroked iff a stroke colour is given
        and filled iff a fill colour is given. A missing batch dimension is added. Each path
        is its own compound shape unless ``compound`` says otherwise.

        Shape:
            - points: :math:`(B, N, P, 2)` or :math:`(N, P, 2)`
            - num_segments: :math:`(B, N)` or :math:`(N,)`
            - other per-path tensors: :math:`(B, N, ...)`, :math:`(N, ...)` or broadcastable.
        """
        if points.dim() == 3:
            points = points.unsqueeze(0)
        if points.dim() != 4 or points.shape[-1] != 2:
            raise ValueError(f"points must have shape (B, N, P, 2), got {tuple(points.shape)}")
        batch, paths = points.shape[:2]
        device, dtype = points.device, points.dtype

        def per_path(value, trailing: tuple[int, ...], kind: torch.dtype, name: str) -> Tensor:
            tensor = torch.as_tensor(value, device=device, dtype=kind)
            if tensor.dim() == len(trailing) + 1 and tensor.shape[0] == paths:
                tensor = tensor.unsqueeze(0)
            try:
                return tensor.expand(batch, paths, *trailing)
            except RuntimeError:
                wanted = (batch, paths, *trailing)
                raise ValueError(
                    f"{name} must broadcast to {wanted}, got {tuple(tensor.shape)}"
                ) from None

        stroked = stroke_color is not None
        filled = fill_color is not None
        transparent = torch.zeros(4, device=device, dtype=dtype)
        if background is None:
            background = transparent
        background = torch.as_tensor(background, device=device, dtype=dtype)
        if background.dim() == 1:
            background = background.expand(batch, 4)
        if compound is None:
            compound = torch.arange(paths, device=device)
        return cls(
            width=int(width),
            height=int(height),
            points=points,
            num_segments=per_path(num_segments, (), torch.long, "num_segments"),
            closed=per_path(closed, (), torch.bool, "closed"),
            stroke_width=per_path(
                1.0 if stroke_width is None else stroke_width, (), dtype, "stroke_width"
            ),
            stroke_color=per_path(
                stroke_color if stroked else transparent, (4,), dtype, "stroke_color"
            ),
            fill_color=per_path(fill_color if filled else transparent, (4,), dtype, "fill_color"),
            stroked=per_path(stroked, (), torch.bool, "stroked"),
            filled=per_path(filled, (), torch.bool, "filled"),
            fill_rule=per_path(int(fill_rule) if isinstance(fill_rule, int) else fill_rule, (),
                               torch.long, "fill_rule"),
            linecap=per_path(int(linecap) if isinstance(linecap, int) else linecap, (),
                             torch.long, "linecap"),
            compound=per_path(compound, (), torch.long, "compound"),
            background=background,
            linejoin=per_path(int(linejoin) if isinstance(linejoin, int) else linejoin, (),
                              torch.long, "linejoin"),
            miter_limit=per_path(miter_limit, (), dtype, "miter_limit"),
        )

    @property
    def batch_size(self) -> int:
        return self.points.shape[0]

    @property
    def num_paths(self) -> int:
        return self.points.shape[1]

    @property
    def device(self) -> torch.device:
        return self.points.device

    def replace(self, **changes) -> Scene:
        """A copy with some fields replaced (tensors are shared, not cloned)."""
        return dataclasses.replace(self, **changes)

    def map_tensors(self, fn) -> Scene:
        """Apply ``fn`` to every tensor field."""
        return self.replace(**{name: fn(getattr(self, name)) for name in _TENSOR_FIELDS})

    def to(self, *args, **kwargs) -> Scene:
        """Like :meth:`torch.Tensor.to`: move to a device; only floating-point fields change
        dtype, integer and boolean fields keep theirs."""
        device = self.points.to(*args, **kwargs).device

        def move(tensor: Tensor) -> Tensor:
            if tensor.is_floating_point():
                return tensor.to(*args, **kwargs)
            return tensor.to(device=device)

        return self.map_tensors(move)

    def detach(self) -> Scene:
        return self.map_tensors(lambda tensor: tensor.detach())

    def take_paths(self, count: int) -> Scene:
        """The first ``count`` paths of every canvas (drops padding added by :meth:`concat`)."""
        if count == self.num_paths:
            return self
        return self.map_tensors(lambda tensor: tensor if tensor is self.background
                                else tensor[:, :count])

    def __getitem__(self, index: int | slice) -> Scene:
        """Select canvases along the batch dimension, keeping it."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return self.map_tensors(lambda tensor: tensor[index])

    @staticmethod
    def concat(scenes: Sequence[Scene]) -> Scene:
        """Join scenes of equal canvas size along the batch dimension, padding paths and points."""
        if not scenes:
            raise ValueError("concat needs at least one scene")
        first = scenes[0]
        if any((s.width, s.height) != (first.width, first.height) for s in scenes):
            raise ValueError("scenes to concatenate must share width and height")
        paths = max(s.num_paths for s in scenes)
        points = max(s.points.shape[2] for s in scenes)

        def pad(scene: Scene) -> Scene:
            extra_paths = paths - scene.num_paths
            extra_points = points - scene.points.shape[2]

            def pad_tensor(tensor: Tensor) -> Tensor:
                if tensor is scene.background:
                    return tensor
                if tensor is scene.points:
                    tensor = torch.nn.functional.pad(tensor, (0, 0, 0, extra_points))
                trailing = [0, 0] * (tensor.dim() - 2)
                if tensor is scene.compound and extra_paths:
                    fill = tensor.amax(dim=1, keepdim=True) + 1 if tensor.shape[1] else 0
                    more = torch.arange(extra_paths, device=tensor.device) + fill
                    return torch.cat([tensor, more.expand(tensor.shape[0], -1)], dim=1)
                if tensor is scene.miter_limit:
                    return torch.nn.functional.pad(tensor, (0, extra_paths),
                                                   value=DEFAULT_MITER_LIMIT)
                return torch.nn.functional.pad(tensor, (*trailing, 0, extra_paths))

            return scene.map_tensors(pad_tensor)

        padded = [pad(s) for s in scenes]
        return first.replace(
            **{name: torch.cat([getattr(s, name) for s in padded]) for name in _TENSOR_FIELDS}
        )

    def validate(self, values: bool = True) -> Scene:
        """Raise ``ValueError`` naming the first invalid field; return ``self`` when valid.

        ``values=False`` checks only what the host knows (sizes and shapes), never reading the
        tensors' values back from their device.
        """
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"canvas size must be positive, got {self.width}x{self.height}")
        if self.points.dim() != 4 or self.points.shape[-1] != 2:
            raise ValueError(f"points must have shape (B, N, P, 2), got {tuple(self.points.shape)}")
        if not self.points.is_floating_point():
            raise ValueError("points must be a floating-point tensor")
        batch, paths = self.points.shape[:2]
        expected = {
            "num_segments": (batch, paths),
            "closed": (batch, paths),
            "stroke_width": (batch, paths),
            "stroke_color": (batch, paths, 4),
            "fill_color": (batch, paths, 4),
            "stroked": (batch, paths),
            "filled": (batch, paths),
            "fill_rule": (batch, paths),
            "linecap": (batch, paths),
            "compound": (batch, paths),
            "background": (batch, 4),
            "linejoin": (batch, paths),
            "miter_limit": (batch, paths),
        }
        for name, shape in expected.items():
            actual = tuple(getattr(self, name).shape)
            if actual != shape:
                raise ValueError(f"{name} must have shape {shape}, got {actual}")
        if values:
            checks = self._value_checks()
            # One read of all the checks: on a GPU each read waits for the device.
            failed = torch.stack([bad for bad, _ in checks]).tolist()
            for bad, (_, message) in zip(failed, checks):
                if bad:
                    raise ValueError(message)
        return self

    def invalid_values(self) -> Tensor:
        """Whether any value breaks the constraints :meth:`validate` checks, as a 0-dim bool
        tensor on the scene's device (read it when the host waits for the device anyway)."""
        return torch.stack([bad for bad, _ in self._value_checks()]).any()

    def _value_checks(self) -> list[tuple[Tensor, str]]:
        """Each constraint on values, as (0-dim bool "broken", message)."""
        checks = [
            (~torch.isfinite(getattr(self, name)).all(), f"{name} contains NaN or infinite values")
            for name in ("points", "stroke_width", "stroke_color", "fill_color", "background",
                         "miter_limit")
        ]
        checks.append(((self.stroke_width < 0).any(), "stroke_width must be non-negative"))
        checks += [
            (((value < 0) | (value > 1)).any(), f"{name} must lie in [0, 1]")
            for name, value in (("stroke_color", self.stroke_color),
                                ("fill_color", self.fill_color),
                                ("background", self.background))
        ]
        slots = self.points.shape[2]
        needed = 3 * self.num_segments + (~self.closed).long()
        return checks + [
            ((self.num_segments < 0).any(), "num_segments must be non-negative"),
            ((needed > slots).any(),
             f"num_segments needs more than the {slots} points given per path"),
            (((self.fill_rule < 0) | (self.fill_rule > 1)).any(),
             "fill_rule must be 0 (nonzero) or 1 (evenodd)"),
            (((self.linecap < 0) | (self.linecap > 2)).any(),
             "linecap must be 0 (butt), 1 (round) or 2 (square)"),
            ((self.compound[:, 1:] < self.compound[:, :-1]).any(),
             "compound must be non-decreasing along the paths"),
            (((self.linejoin < 0) | (self.linejoin > 2)).any(),
             "linejoin must be 0 (round), 1 (miter) or 2 (bevel)"),
            ((self.miter_limit < 1).any(), "miter_limit must be at least 1"),
        ]

