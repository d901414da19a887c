"""Synthetic captioned shapes: the training data of clipdraw's shipped ``shapes`` model.

Each sample is a white canvas with one or two coloured shapes (or, as hard negatives, scribbles
like clipdraw's random starting strokes) and a caption that says what it shows, from templates
with synonyms. Shapes are drawn the way clipdraw's strokes draw them: filled, outlined, hatched
with strokes or wobbly, often translucent, so a drawing made of strokes looks like the data.

Everything is rendered in a batch from signed distance fields on the pixel grid (anti-aliased over
one pixel), from a ``torch.Generator``, so a seed gives the same data everywhere.

Convention:
    Pixel ``(i, j)`` has its centre at ``(j + 0.5, i + 0.5)``; coordinates are in pixels, y down.
    Colours are straight RGB in [0, 1]; images are RGB over white, shape ``(B, 3, S, S)``.

Example:
    >>> batch = make_batch(torch.Generator().manual_seed(0), 4, size=32)
    >>> batch.images.shape, len(batch.captions)
    (torch.Size([4, 3, 32, 32]), 4)
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "COLOURS",
    "COLOUR_WORDS",
    "HELD_OUT",
    "SHAPES",
    "SHAPE_WORDS",
    "ShapesBatch",
    "make_batch",
    "render_pairs",
    "vocabulary",
]

#: Prototype RGB of each colour (samples jitter around it).
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.88, 0.10, 0.10),
    "green": (0.10, 0.62, 0.15),
    "blue": (0.10, 0.22, 0.88),
    "yellow": (0.97, 0.86, 0.08),
    "orange": (1.00, 0.55, 0.00),
    "purple": (0.55, 0.15, 0.70),
    "black": (0.05, 0.05, 0.05),
    "pink": (1.00, 0.50, 0.75),
}
#: Words a caption may use for each colour.
COLOUR_WORDS: dict[str, tuple[str, ...]] = {c: (c,) for c in COLOURS} | {"purple": ("purple",
                                                                                    "violet")}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "ring", "line", "cross")
#: Words a caption may use for each shape.
SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disc", "dot"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "ring": ("ring", "hoop"),
    "line": ("line", "stroke", "bar"),
    "cross": ("cross", "plus"),
}
#: Colour-shape pairs never shown nor named in training (the evaluation asks for some of them).
HELD_OUT: tuple[tuple[str, str], ...] = (
    ("green", "triangle"), ("pink", "cross"), ("orange", "ring"), ("blue", "line"),
)
SIZES: dict[str, tuple[str, ...]] = {"small": ("small", "little"), "big": ("big", "large")}
POSITIONS: dict[str, tuple[str, ...]] = {
    "left": ("on the left",), "right": ("on the right",), "top": ("at the top",),
    "bottom": ("at the bottom",), "middle": ("in the middle", "in the centre"),
}
TEMPLATES: tuple[str, ...] = (
    "a {}", "a drawing of a {}", "a sketch of a {}", "a picture of a {}", "{}", "an image of a {}",
)
SCRIBBLE_CAPTIONS: tuple[str, ...] = ("{} scribbles", "a mess of {} lines", "{} scribble")
MANY_COLOURS: tuple[str, ...] = ("colourful scribbles", "many colours", "random colourful lines",
                                 "a messy drawing")
#: Words outside the vocabulary, put into some captions so that unknown words are ignored.
FILLER_WORDS: tuple[str, ...] = (
    "nice", "simple", "dog", "grey", "shiny", "cute", "very", "tree", "photo", "old", "happy",
    "painted", "bright", "abstract", "house", "cat", "modern",
)


def vocabulary() -> list[str]:
    """Every caption word the model is trained on (fillers excluded), in a stable order."""
    words: list[str] = []
    texts = [*TEMPLATES, *SCRIBBLE_CAPTIONS, *MANY_COLOURS, "an and above left of"]
    texts += [w for ws in (*COLOUR_WORDS.values(), *SHAPE_WORDS.values(), *SIZES.values(),
                           *POSITIONS.values()) for w in ws]
    for text in texts:
        for word in text.replace("{}", " ").split():
            if word not in words:
                words.append(word)
    return words


@dataclass
class ShapesBatch:
    """A batch of captioned images.

    Shape:
        - images: :math:`(B, 3, S, S)` RGB over white.
    """

    images: Tensor
    captions: list[str]


# -- signed distances (negative inside), points p: (B, P, 2) in the shape's own frame ----------
def _segment(p: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Distance to segments ``a``-``b`` (each (B, 1, 2) or broadcastable)."""
    ab = b - a
    t = ((p - a) * ab).sum(-1, keepdim=True) / (ab * ab).sum(-1, keepdim=True).clamp(min=1e-9)
    return (p - a - t.clamp(0, 1) * ab).norm(dim=-1)


def _box(p: Tensor, half: Tensor) -> Tensor:
    q = p.abs() - half[:, None, None]
    return q.clamp(min=0).norm(dim=-1) + q.max(-1).values.clamp(max=0)


def _triangle(p: Tensor, radius: Tensor) -> Tensor:
    """Equilateral triangle, apex up, circumradius ``radius`` (Inigo Quilez's formula)."""
    k = math.sqrt(3.0)
    r = radius[:, None] * k / 2  # half side
    x = p[..., 0].abs() - r
    y = -p[..., 1] + r / k
    flip = x + k * y > 0
    x, y = torch.where(flip, (x - k * y) / 2, x), torch.where(flip, (-k * x - y) / 2, y)
    x = x - x.clamp(-2 * r, torch.zeros_like(r))
    return -torch.sqrt(x * x + y * y) * torch.sign(y)


def _shape_distance(kind: Sequence[str], p: Tensor, radius: Tensor, thickness: Tensor) -> Tensor:
    """Signed distance of each sample's shape; ``radius`` (B,), ``thickness`` (B,) full width."""
    out = torch.empty(p.shape[:2])
    for name in set(kind):
        rows = torch.tensor([k == name for k in kind])
        q, r, w = p[rows], radius[rows], thickness[rows]
        if name == "circle":
            d = q.norm(dim=-1) - r[:, None]
        elif name == "square":
            d = _box(q, 0.8 * r)
        elif name == "triangle":
            d = _triangle(q, 1.1 * r)
        elif name == "ring":
            d = (q.norm(dim=-1) - 0.8 * r[:, None]).abs() - w[:, None] / 2
        elif name == "line":
            end = torch.stack([r, torch.zeros_like(r)], -1)[:, None]
            d = _segment(q, -end, end) - w[:, None] / 2
        else:  # cross
            end = torch.stack([r, torch.zeros_like(r)], -1)[:, None]
            d = torch.minimum(_segment(q, -end, end), _segment(q, -end.flip(-1), end.flip(-1)))
            d = d - w[:, None] / 2
        out[rows] = d
    return out


def _coverage(distance: Tensor) -> Tensor:
    return (0.5 - distance).clamp(0, 1)


def _stripes(p: Tensor, angle: Tensor, spacing: Tensor, width: Tensor) -> Tensor:
    """Coverage of parallel strokes (hatching) across the plane."""
    u = p[..., 0] * angle.cos()[:, None] + p[..., 1] * angle.sin()[:, None]
    phase = torch.remainder(u / spacing[:, None], 1.0) - 0.5
    return _coverage(phase.abs() * spacing[:, None] - width[:, None] / 2)


def _jitter_colour(names: Sequence[str], g: torch.Generator) -> Tensor:
    base = torch.tensor([COLOURS[n] for n in names])
    noise = (torch.rand(len(names), 3, generator=g) - 0.5) * 0.16
    shade = 1 + (torch.rand(len(names), 1, generator=g) - 0.5) * 0.2
    return (base * shade + noise).clamp(0, 1)


def _grid(size: int) -> Tensor:
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([x, y], -1).reshape(1, -1, 2)


def _draw_shapes(
    g: torch.Generator, size: int, kind: list[str], colour: list[str], centre: Tensor,
    radius: Tensor,
) -> tuple[Tensor, Tensor]:
    """RGB (B, 3, P) and coverage (B, P) of one shape per sample, in a random drawing style."""
    count = len(kind)
    grid = _grid(size).expand(count, -1, -1)
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    # Hand-drawn wobble: a smooth random displacement of the plane.
    freq = 0.05 + 0.15 * rand(count, 2, 1)
    phase = 2 * math.pi * rand(count, 2, 1)
    amplitude = (rand(count, 1, 1) * 0.06 * radius[:, None, None]).clamp(max=3)
    wobble = amplitude * torch.sin(freq * grid.flip(-1).transpose(1, 2) + phase).transpose(1, 2)
    angle = 2 * math.pi * rand(count)
    turn = torch.tensor([k in ("line", "cross", "square") for k in kind]) | (rand(count) < 0.3)
    angle = torch.where(turn, angle, (rand(count) - 0.5) * 0.3)
    cos, sin = angle.cos()[:, None], angle.sin()[:, None]
    d = grid + wobble - centre[:, None]
    local = torch.stack([cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1]],
                        -1)
    thickness = (0.12 + 0.2 * rand(count)) * radius + 1.5
    distance = _shape_distance(kind, local, radius, thickness)
    style = rand(count)
    solid = torch.tensor([k in ("circle", "square", "triangle") for k in kind])
    outline = solid & (style < 0.3) & torch.tensor([k != "circle" for k in kind])
    hatch = solid & (style >= 0.3) & (style < 0.6)
    line_width = 1.5 + 3 * rand(count)
    cover = torch.where(outline[:, None], _coverage(distance.abs() - line_width[:, None] / 2),
                        _coverage(distance))
    stripes = _stripes(local, 2 * math.pi * rand(count), line_width * (1.3 + rand(count)),
                       line_width)
    cover = torch.where(hatch[:, None], cover * stripes.maximum(_coverage(distance.abs() - 1)),
                        cover)
    filled = solid & (style >= 0.6) & (style < 0.8)
    if filled.any():
        rows = filled.nonzero().flatten()
        strokes = 12
        start = centre[rows, None] + (torch.rand(len(rows), strokes, 2, generator=g) - 0.5) * (
            2 * radius[rows, None, None])
        _, scribbles = _draw_scribbles(g, size, None, strokes, count=len(rows), start=start,
                                       reach=0.25, width=(3.0, 8.0))
        inside = _coverage(distance[rows] - 1)
        cover[rows] = scribbles.amax(1).clamp(max=1) * inside
    alpha = 0.65 + 0.35 * rand(count)
    return _jitter_colour(colour, g)[:, :, None], cover * alpha[:, None]


def _draw_scribbles(
    g: torch.Generator, size: int, colours: list[list[str]] | None, strokes: int = 6, *,
    count: int | None = None, start: Tensor | None = None, reach: float = 0.35,
    width: tuple[float, float] = (1.5, 4.5),
) -> tuple[Tensor, Tensor]:
    """Random polyline strokes like clipdraw's starting strokes.

    Each sample's strokes take colours from its list in ``colours``, or random RGB (as clipdraw's
    random starting strokes do) when ``colours`` is ``None`` (then ``count`` samples). ``start``
    (B, K, 2) places the strokes' first points (default: uniform); ``reach`` is the size of a
    step as a fraction of the canvas.

    Returns per sample and stroke RGB (B, K, 3, 1) and coverage (B, K, P).
    """
    count = len(colours) if colours is not None else count
    grid = _grid(size)
    if start is None:
        start = torch.rand(count, strokes, 2, generator=g) * size
    steps = (torch.rand(count, strokes, 4, 2, generator=g) - 0.5) * size * reach
    points = torch.cat([start[:, :, None], start[:, :, None] + steps.cumsum(2)], 2)  # (B, K, 5, 2)
    lo, hi = width
    stroke_width = lo + (hi - lo) * torch.rand(count, strokes, 1, generator=g)
    a, b = points[:, :, :-1].reshape(-1, 1, 2), points[:, :, 1:].reshape(-1, 1, 2)
    distance = _segment(grid, a, b).view(count, strokes, 4, -1).min(2).values
    cover = _coverage(distance - stroke_width / 2) * (
        0.6 + 0.4 * torch.rand(count, strokes, 1, generator=g))
    if colours is None:
        return torch.rand(count, strokes, 3, 1, generator=g), cover
    names = [[c[int(torch.randint(len(c), (), generator=g))] for _ in range(strokes)]
             for c in colours]
    rgb = _jitter_colour([n for row in names for n in row], g).view(count, strokes, 3, 1)
    return rgb, cover


def _over(canvas: Tensor, rgb: Tensor, cover: Tensor) -> Tensor:
    return canvas * (1 - cover[:, None]) + rgb * cover[:, None]


def _pick(rng: random.Random, words: Sequence[str]) -> str:
    return words[rng.randrange(len(words))]


def _allowed_pairs() -> list[tuple[str, str]]:
    return [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in HELD_OUT]


def _position_word(centre: Tensor, size: int) -> str:
    x, y = (float(v) / size for v in centre)
    offsets = {"left": 0.5 - x, "right": x - 0.5, "top": 0.5 - y, "bottom": y - 0.5}
    name = max(offsets, key=offsets.get)
    return name if offsets[name] > 0.15 else "middle"


def _phrase(rng: random.Random, colour: str, shape: str, size_word: str | None,
            position: str | None) -> str:
    words = [size_word] if size_word else []
    words += [_pick(rng, COLOUR_WORDS[colour]), _pick(rng, SHAPE_WORDS[shape])]
    if position:
        words.append(_pick(rng, POSITIONS[position]))
    return " ".join(words)


def _with_filler(rng: random.Random, caption: str, probability: float) -> str:
    if rng.random() >= probability:
        return caption
    words = caption.split()
    words.insert(rng.randrange(len(words) + 1), _pick(rng, FILLER_WORDS))
    return " ".join(words)


def render_pairs(
    generator: torch.Generator, pairs: Sequence[tuple[str, str]], *, size: int = 96
) -> Tensor:
    """One ``(colour, shape)`` per image, at a random place and size, in a random style.

    Shape:
        - Output: :math:`(len(pairs), 3, size, size)`
    """
    count = len(pairs)
    radius = (0.12 + 0.22 * torch.rand(count, generator=generator)) * size
    margin = radius[:, None] + 0.05 * size
    centre = margin + (size - 2 * margin) * torch.rand(count, 2, generator=generator)
    rgb, cover = _draw_shapes(generator, size, [s for _, s in pairs], [c for c, _ in pairs],
                              centre, radius)
    return _over(torch.ones(count, 3, size * size), rgb, cover).view(count, 3, size, size)


def _articles(caption: str) -> str:
    """``a`` before a vowel becomes ``an`` (``an orange ring``)."""
    return re.sub(r"\ba (?=[aeiou])", "an ", caption)


def make_batch(
    generator: torch.Generator,
    count: int,
    *,
    size: int = 96,
    scribble_fraction: float = 0.15,
    pair_fraction: float = 0.25,
    filler_probability: float = 0.1,
    clutter_probability: float = 0.4,
    mess_probability: float = 0.1,
) -> ShapesBatch:
    """``count`` captioned images on an ``size`` x ``size`` canvas.

    Args:
        generator: the source of every random choice.
        scribble_fraction: share of hard negatives (scribbles, captioned by their colours).
        pair_fraction: share of two-shape scenes (captioned "a ... and a ...", "above", ...).
        filler_probability: chance of one unknown word in a caption (the model learns to ignore
            the zero embedding that unknown words get).
        clutter_probability: chance of faint random-colour strokes (like those clipdraw starts
            from) added to a shape scene (not named: they are too faint to matter).
        mess_probability: chance of opaque scribbles in other colours added to a one-shape
            scene, named in its caption ("a red circle and blue scribbles"): a drawing that
            keeps such strokes is not quite its prompt.

    Shape:
        - images: :math:`(count, 3, size, size)`
    """
    rng = random.Random(int(torch.randint(2**31, (), generator=generator)))
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    pairs = _allowed_pairs()
    kinds = ["scribble" if r < scribble_fraction else "pair"
             if r < scribble_fraction + pair_fraction else "single" for r in rand(count).tolist()]
    canvas = torch.ones(count, 3, size * size)
    captions = [""] * count

    # Shapes: one per sample, a second one for pairs.
    shaped = [i for i, k in enumerate(kinds) if k != "scribble"]
    first = [pairs[rng.randrange(len(pairs))] for _ in shaped]
    big = rand(len(shaped)) < 0.5
    radius = torch.where(big, 0.22 + 0.12 * rand(len(shaped)), 0.1 + 0.1 * rand(len(shaped)))
    is_pair = torch.tensor([kinds[i] == "pair" for i in shaped], dtype=torch.bool)
    radius = torch.where(is_pair, radius.clamp(max=0.2), radius) * size
    margin = radius / size + 0.05
    centre = (margin[:, None] + (1 - 2 * margin[:, None]) * rand(len(shaped), 2)) * size
    # A pair's shapes sit in opposite halves (left/right or top/bottom).
    vertical = rand(len(shaped)) < 0.5
    half = torch.where(vertical[:, None], torch.tensor([[1.0, 0.5]]), torch.tensor([[0.5, 1.0]]))
    paired_centre = centre * half
    centre = torch.where(is_pair[:, None], paired_centre, centre)
    second = [pairs[rng.randrange(len(pairs))] for _ in shaped]
    second_centre = paired_centre + size * (1 - half)
    second_radius = (0.1 + 0.1 * rand(len(shaped))) * size
    if shaped:
        rgb, cover = _draw_shapes(generator, size, [s for _, s in first], [c for c, _ in first],
                                  centre, radius)
        canvas[shaped] = _over(canvas[shaped], rgb, cover)
        rows = is_pair.nonzero().flatten().tolist()
        if rows:
            index = [shaped[r] for r in rows]
            rgb2, cover2 = _draw_shapes(generator, size, [second[r][1] for r in rows],
                                        [second[r][0] for r in rows], second_centre[rows],
                                        second_radius[rows])
            canvas[index] = _over(canvas[index], rgb2, cover2)
    for j, i in enumerate(shaped):
        colour, shape = first[j]
        size_word = _pick(rng, SIZES["big" if big[j] else "small"]) \
            if kinds[i] == "single" and rng.random() < 0.3 else None
        position = _position_word(centre[j], size) \
            if kinds[i] == "single" and rng.random() < 0.3 else None
        phrase = _phrase(rng, colour, shape, size_word, position)
        if kinds[i] == "pair":
            other = _phrase(rng, *second[j], None, None)
            relation = "and"
            if rng.random() < 0.5:
                relation = "above" if vertical[j] else "left of"
            if rng.random() < 0.5 and relation == "and":
                phrase, other = other, phrase
            captions[i] = f"a {phrase} {relation} a {other}"
        else:
            captions[i] = _pick(rng, TEMPLATES).format(phrase)

    # Faint leftover strokes (unnamed: too faint to matter), named opaque mess, and hard
    # negatives (scribbles only, captioned by their colours) for the rest.
    singles = [i for i in shaped if kinds[i] == "single"]
    messy = [i for i in singles if rng.random() < mess_probability]
    faint = [i for i in shaped if i not in messy and rng.random() < clutter_probability]
    if faint:
        rgb, cover = _draw_scribbles(generator, size, None, strokes=16, count=len(faint),
                                     reach=0.25)
        alpha = 0.3 * torch.rand(len(faint), 16, 1, generator=generator).square()
        for k in range(rgb.shape[1]):
            canvas[faint] = _over(canvas[faint], rgb[:, k], alpha[:, k] * cover[:, k])
    if messy:
        others = [[c for c in COLOURS if c not in captions[i]] for i in messy]
        chosen = [rng.sample(o, rng.choice((1, 2))) for o in others]
        rgb, cover = _draw_scribbles(generator, size, chosen, strokes=6, reach=0.25)
        for k in range(rgb.shape[1]):
            canvas[messy] = _over(canvas[messy], rgb[:, k], cover[:, k])
        for i, names in zip(messy, chosen):
            words = " and ".join(_pick(rng, COLOUR_WORDS[c]) for c in names)
            captions[i] = f"{captions[i]} and {words} scribbles"
    scribbled = [i for i, k in enumerate(kinds) if k == "scribble"]
    if scribbled:
        colour_sets = []
        for i in scribbled:
            many = rng.random() < 0.3
            chosen = rng.sample(list(COLOURS), 4 if many else rng.choice((1, 2)))
            colour_sets.append(chosen)
            if many:
                captions[i] = _pick(rng, MANY_COLOURS)
            else:
                words = " and ".join(_pick(rng, COLOUR_WORDS[c]) for c in chosen)
                captions[i] = _pick(rng, SCRIBBLE_CAPTIONS).format(words)
        rgb, cover = _draw_scribbles(generator, size, colour_sets, strokes=8)
        # Many colours are clipdraw's random colours half the time.
        random_rgb, _ = _draw_scribbles(generator, size, None, strokes=8, count=len(scribbled))
        swap = torch.tensor([len(c) == 4 for c in colour_sets]) & (
            torch.rand(len(scribbled), generator=generator) < 0.5)
        rgb = torch.where(swap[:, None, None, None], random_rgb, rgb)
        for k in range(rgb.shape[1]):
            canvas[scribbled] = _over(canvas[scribbled], rgb[:, k], cover[:, k])
    captions = [_articles(_with_filler(rng, c, filler_probability)) for c in captions]
    return ShapesBatch(canvas.view(count, 3, size, size).clamp(0, 1), captions)


if __name__ == "__main__":  # a contact sheet to look at: python scripts/shapes_data.py out.png
    import sys

    from PIL import Image

    batch = make_batch(torch.Generator().manual_seed(0), 48)
    sheet = batch.images.view(6, 8, 3, 96, 96).permute(0, 3, 1, 4, 2).reshape(6 * 96, 8 * 96, 3)
    Image.fromarray((sheet * 255).round().byte().numpy()).save(sys.argv[1])
    for row in range(6):
        print(" | ".join(batch.captions[row * 8:(row + 1) * 8]))
