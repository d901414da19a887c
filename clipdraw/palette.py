"""Stroke colours restricted to a palette: hex lists, k-means palettes, and the differentiable
choice of a palette colour per path.

Each path holds logits over the K palette colours; its colour is the softmax mixture at a
temperature annealed from :attr:`PaletteSchedule.start_temperature` to
:attr:`PaletteSchedule.end_temperature`, and from :attr:`PaletteSchedule.hard_from` of the steps
on it is the chosen colour itself (straight-through: the forward pass uses the argmax, the
gradient that of the softmax). Snapshots and the saved drawing always use the argmax, so the SVG
holds exactly the palette's colours. Alpha is not part of the palette: it stays optimised (or
fixed at 1 with ``opaque``).

Convention:
    Palettes are 8-bit sRGB colours, stored as ``"#rrggbb"`` and as tensors of ``k / 255``
    values, so that the SVG's 8-bit ``rgb()`` reproduces them exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from clipdraw.settings import DrawSettings

__all__ = [
    "PALETTE_SCHEDULE",
    "PaletteSchedule",
    "initial_logits",
    "kmeans_palette",
    "palette_colours",
    "palette_from_settings",
    "parse_palette",
    "to_hex",
]


@dataclass(frozen=True)
class PaletteSchedule:
    """How the choice of palette colours is optimised.

    Args:
        start_temperature: softmax temperature at the first step (logits are in units of it).
        end_temperature: temperature at the last step (annealed geometrically).
        hard_from: fraction of the steps from which renders use the chosen colour itself
            (straight-through), so the last steps optimise what is saved.
        logit_lr_scale: the logits' learning rate is ``color_lr`` times this.
        init_sharpness: initial logits are ``-init_sharpness`` times the squared RGB distance
            of the path's random colour to each palette colour.
    """

    start_temperature: float = 1.0
    end_temperature: float = 0.05
    hard_from: float = 0.8
    logit_lr_scale: float = 10.0
    init_sharpness: float = 10.0

    def temperature(self, step: int, iterations: int) -> float:
        """Temperature at 0-based ``step`` of ``iterations``.

        >>> PaletteSchedule().temperature(0, 100), PaletteSchedule().temperature(100, 100)
        (1.0, 0.05)
        """
        fraction = min(1.0, step / max(1, iterations))
        return self.start_temperature * (self.end_temperature / self.start_temperature) ** fraction

    def hard(self, step: int, iterations: int) -> bool:
        """Whether the renders of 0-based ``step`` use the chosen colours themselves."""
        return step >= self.hard_from * iterations


#: The schedule every palette drawing uses.
PALETTE_SCHEDULE = PaletteSchedule()


def parse_palette(colours: Sequence[str]) -> Tensor:
    """RGB tensor of ``"#rgb"``/``"#rrggbb"``/CSS-named colours, rounded to 8 bits.

    Shape:
        - Output: :math:`(K, 3)` float64 on the CPU.

    >>> parse_palette(["#000", "#e63946"]) * 255
    tensor([[  0.,   0.,   0.],
            [230.,  57.,  70.]], dtype=torch.float64)
    """
    from clipdraw.options import parse_color

    rgb = [parse_color(c)[:3] for c in colours]
    return (torch.tensor(rgb, dtype=torch.float64).reshape(-1, 3) * 255).round() / 255


def to_hex(palette: Tensor) -> tuple[str, ...]:
    """``"#rrggbb"`` of each row of an RGB palette in [0, 1].

    >>> to_hex(torch.tensor([[1.0, 0.5, 0.0]]))
    ('#ff8000',)
    """
    levels = (palette.detach().cpu().double().clamp(0, 1) * 255).round().long().tolist()
    return tuple("#{:02x}{:02x}{:02x}".format(*rgb) for rgb in levels)


def kmeans_palette(image: Tensor, k: int, generator: torch.Generator, *,
                   iterations: int = 50) -> Tensor:
    """``k`` colours of ``image`` by k-means in RGB (k-means++ start, Lloyd steps).

    The pixels are first reduced to their distinct 8-bit colours, weighted by count, so the
    result is the pixel-level k-means at any image size. An image with fewer than ``k``
    distinct colours gives those colours. Deterministic given the generator's state.

    Args:
        image: RGB in [0, 1].
        k: number of colours wanted.
        generator: draws the k-means++ starting colours.
        iterations: at most this many Lloyd steps (stops earlier once stable).

    Returns:
        Palette colours, rounded to 8 bits, most frequent first.

    Shape:
        - image: :math:`(3, H, W)`
        - Output: :math:`(K', 3)` float64 on the CPU, :math:`K' \\le k`.

    Example:
        >>> image = torch.zeros(3, 4, 4)
        >>> image[0, :, :2] = 1  # red left half, black right half
        >>> kmeans_palette(image, 2, torch.Generator().manual_seed(0))
        tensor([[0., 0., 0.],
                [1., 0., 0.]], dtype=torch.float64)
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    levels = (image.detach().cpu().double().clamp(0, 1) * 255).round().long()
    colours, counts = levels.reshape(3, -1).T.unique(dim=0, return_counts=True)
    colours, weights = colours.double() / 255, counts.double()
    if len(colours) <= k:
        order = weights.argsort(descending=True, stable=True)
        return colours[order]
    centres = colours[torch.multinomial(weights, 1, generator=generator)]
    for _ in range(k - 1):  # k-means++: next centre with probability ~ weight * distance^2
        nearest = torch.cdist(colours, centres).amin(1).square()
        centres = torch.cat([centres, colours[torch.multinomial(weights * nearest, 1,
                                                                generator=generator)]])
    for _ in range(iterations):
        label = torch.cdist(colours, centres).argmin(1)
        mass = torch.zeros(k, dtype=torch.float64).index_add_(0, label, weights)
        sums = torch.zeros(k, 3, dtype=torch.float64).index_add_(0, label,
                                                                 colours * weights[:, None])
        moved = torch.where(mass[:, None] > 0, sums / mass.clamp_min(1e-12)[:, None], centres)
        if torch.equal(moved, centres):
            break
        centres = moved
    label = torch.cdist(colours, centres).argmin(1)
    mass = torch.zeros(k, dtype=torch.float64).index_add_(0, label, weights)
    palette = (centres * 255).round() / 255
    order = mass.argsort(descending=True, stable=True)
    return palette[order].unique_consecutive(dim=0)


def palette_from_settings(settings: DrawSettings) -> Tensor | None:
    """The drawing's palette: ``palette``, or k-means of ``palette_image`` seeded by ``seed``
    (its own generator: the drawing's random strokes stay the same); ``None`` without one.

    Shape:
        - Output: :math:`(K, 3)` float64 on the CPU.
    """
    s = settings.resolved()
    if s.palette:
        return parse_palette(s.palette)
    if s.palette_image is None:
        return None
    from clipdraw.objectives import load_image

    image = load_image(s.palette_image, background=s.background[0])
    longest = max(image.shape[1:])
    if longest > 256:  # k-means of a thumbnail: the same colours, much faster
        size = tuple(max(1, round(side * 256 / longest)) for side in image.shape[1:])
        image = torch.nn.functional.interpolate(image[None], size=size, mode="area")[0]
    return kmeans_palette(image, s.palette_size, torch.Generator().manual_seed(int(s.seed)))


def initial_logits(colours: Tensor, palette: Tensor,
                   schedule: PaletteSchedule = PALETTE_SCHEDULE) -> Tensor:
    """Logits that start each path near the palette colour closest to its random colour.

    Shape:
        - colours: :math:`(N, 3)` or :math:`(N, 4)` (alpha ignored)
        - palette: :math:`(K, 3)`
        - Output: :math:`(N, K)`, the dtype and device of ``colours``
    """
    palette = palette.to(colours)
    distance = (colours[:, None, :3] - palette[None]).square().sum(-1)
    return -schedule.init_sharpness * distance


def palette_colours(logits: Tensor, palette: Tensor, temperature: float, hard: bool) -> Tensor:
    """RGB of each path: the softmax mixture of the palette at ``temperature``, or with
    ``hard`` the argmax colour exactly (its gradient that of the mixture).

    Shape:
        - logits: :math:`(N, K)`
        - palette: :math:`(K, 3)`
        - Output: :math:`(N, 3)`

    Example:
        >>> palette = torch.tensor([[0.0, 0, 0], [1.0, 0, 0]])
        >>> logits = torch.tensor([[0.0, 1.0]])
        >>> palette_colours(logits, palette, 1.0, hard=False).round(decimals=3)
        tensor([[0.7310, 0.0000, 0.0000]])
        >>> palette_colours(logits, palette, 1.0, hard=True)
        tensor([[1., 0., 0.]])
    """
    palette = palette.to(logits)
    soft = torch.softmax(logits / temperature, dim=-1)
    if not hard:
        return soft @ palette
    chosen = palette[logits.argmax(-1)]
    if not logits.requires_grad:
        return chosen
    mixture = soft @ palette
    return chosen + (mixture - mixture.detach())
