"""Tests of :func:`clipdraw.render.render` against real SVG renderers (cairosvg and resvg).

Each scene is written as an SVG string by the tiny independent writer in ``svg_oracles.py``,
rasterised by the oracle at the same pixel size, and compared as RGB over white in 0..255.
Criteria (issue): against cairo mean abs error <= 1.0 and 99th percentile <= 10; against resvg
mean <= 2.5 and p99 <= 24. Maxima are not compared (the renderers' anti-aliasing differs).
``pytest -rP`` prints the measured numbers.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from reference import over_white, reference_render
from svg_oracles import (
    random_clipdraw_scene,
    render_cairo,
    render_resvg,
    rgb_over_white,
    scene_to_svg_string,
)

from clipdraw.render import render
from clipdraw.scene import FillRule, Scene

ORACLES = {
    "cairo": (render_cairo, 1.0, 10.0),
    "resvg": (render_resvg, 2.5, 24.0),
}


def _rendered_rgb(scene: Scene) -> np.ndarray:
    """clipdraw's render of canvas 0, RGB over white ``(H, W, 3)`` in 0..255."""
    with torch.no_grad():
        image = render(scene)
    return (over_white(image.double())[0].permute(1, 2, 0) * 255).numpy()


@functools.lru_cache(maxsize=1)
def _scene_and_render(scene_name: str) -> tuple[Scene, np.ndarray]:
    """Build and render a named scene once; both oracles' tests of it share the result."""
    scene = SCENES[scene_name]()
    return scene, _rendered_rgb(scene)


def _assert_matches_oracle(scene: Scene, rendered: np.ndarray, oracle: str) -> None:
    """Mean and 99th percentile of |render - oracle| within the oracle's criteria."""
    rasterise, mean_limit, p99_limit = ORACLES[oracle]
    expected = rgb_over_white(rasterise(scene_to_svg_string(scene), scene.width, scene.height))
    errors = np.abs(rendered - expected)
    mean, p99, worst = errors.mean(), np.percentile(errors, 99), errors.max()
    summary = f"vs {oracle}: mean {mean:.3f} (<= {mean_limit}), p99 {p99:.2f} (<= {p99_limit}), " \
              f"max {worst:.1f}"
    print(summary)
    assert mean <= mean_limit and p99 <= p99_limit, summary


def _long_curves(seed: int, num_paths: int, width: int, height: int) -> Scene:
    """Strokes whose control points are spread uniformly over the whole canvas."""
    gen = torch.Generator().manual_seed(seed)
    points = torch.rand(num_paths, 7, 2, generator=gen) * torch.tensor([width, height])
    widths = 1.0 + 7.0 * torch.rand(num_paths, generator=gen)
    colours = torch.rand(num_paths, 4, generator=gen)
    return Scene.create(points, torch.full((num_paths,), 2), width, height,
                        stroke_width=widths, stroke_color=colours)


def _closed_blobs(seed: int, num_paths: int, width: int, height: int,
                  fill_rule: FillRule) -> Scene:
    """Closed random 3-5 segment blobs (often self-intersecting), filled, some also stroked."""
    gen = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height], dtype=torch.float32)
    centres = torch.rand(num_paths, 1, 2, generator=gen) * size
    spread = 0.35 * size * (torch.rand(num_paths, 15, 2, generator=gen) - 0.5)
    points = centres + spread
    segments = torch.randint(3, 6, (num_paths,), generator=gen)
    scene = Scene.create(
        points, segments, width, height, closed=True, fill_rule=fill_rule,
        fill_color=torch.rand(num_paths, 4, generator=gen),
        stroke_color=torch.rand(num_paths, 4, generator=gen),
        stroke_width=0.5 + 3 * torch.rand(num_paths, generator=gen),
    )
    stroked = torch.rand(1, num_paths, generator=gen) < 0.5
    return scene.replace(stroked=stroked)


SCENES = {
    "clipdraw-256-strokes-224": lambda: random_clipdraw_scene(256, 224, 224, seed=1),
    "thin-strokes-224": lambda: random_clipdraw_scene(
        96, 224, 224, seed=2, min_width=0.5, max_width=2.0, step=0.3),
    "long-curves-224": lambda: _long_curves(3, 24, 224, 224),
    "non-square-200x120": lambda: random_clipdraw_scene(128, 200, 120, seed=4, max_width=40.0),
    "filled-blobs-nonzero": lambda: _closed_blobs(5, 24, 160, 128, FillRule.NONZERO),
    "filled-blobs-evenodd": lambda: _closed_blobs(6, 24, 160, 128, FillRule.EVENODD),
}


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("scene_name", list(SCENES))
def test_render_matches_svg_renderer(scene_name: str, oracle: str) -> None:
    _assert_matches_oracle(*_scene_and_render(scene_name), oracle)


def test_reference_rasteriser_agrees_with_cairo() -> None:
    # Validates the brute-force oracle of test_render.py against an independent SVG renderer.
    scene = random_clipdraw_scene(4, 32, 24, seed=11, min_width=0.5, max_width=8.0, step=0.4)
    blob = _closed_blobs(12, 3, 32, 24, FillRule.EVENODD)
    for case in (scene, blob):
        reference = (over_white(reference_render(case))[0].permute(1, 2, 0) * 255).numpy()
        cairo = rgb_over_white(render_cairo(scene_to_svg_string(case), case.width, case.height))
        errors = np.abs(reference - cairo)
        print(f"reference vs cairo: mean {errors.mean():.3f}, "
              f"p99 {np.percentile(errors, 99):.2f}, max {errors.max():.1f}")
        assert errors.mean() <= 1.0 and np.percentile(errors, 99) <= 10.0, (
            f"reference vs cairo: mean {errors.mean():.3f}, p99 {np.percentile(errors, 99):.2f}"
        )


def test_svg_writer_round_trips_a_known_stroke_through_cairo() -> None:
    # A horizontal opaque black butt-capped stroke covers an exact pixel rectangle.
    points = torch.tensor([[[4.0, 8.0], [10.0, 8.0], [16.0, 8.0], [20.0, 8.0]]])
    scene = Scene.create(points, torch.tensor([1]), 24, 16, stroke_width=4.0,
                         stroke_color=torch.tensor([[0.0, 0.0, 0.0, 1.0]]), linecap=0)
    rgb = rgb_over_white(render_cairo(scene_to_svg_string(scene), 24, 16))
    dark = rgb[..., 0] < 128
    assert dark.sum() == 16 * 4 and dark[6:10, 4:20].all(), math.fsum(dark.ravel())
