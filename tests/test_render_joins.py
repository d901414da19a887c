"""Miter and bevel joins (:mod:`clipdraw.render.joins`) against an exact reference of SVG 1.1.

The reference is written from the specification (11.4, ``stroke-linejoin``), independently of
the renderer: a straight polyline's stroke is the union of one rectangle per segment (butt caps)
and, at each joint, the bevel triangle (joint, both outer corners) or the miter quadrilateral
(with the tip at ``h / cos(theta / 2)``) when the miter ratio is within ``miter_limit``, round
joins being a disc. Each pixel's coverage is the fraction of 16 x 16 sample points inside.
Criteria: mean |error| <= 0.25/255 and no pixel off by more than 32/255 (a join drawn round is
off by up to 255/255 at its corner; the reference's sampling alone is off by up to 8/255 on an
edge pixel, which adds up along thin strokes); resvg and cairo are compared in
``test_svg_import_features.py``. Also gradients (finite differences), planned and compiled
renders, and the fields' checks.
``pytest -rP tests/test_render_joins.py`` prints the measured errors.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from helpers import random_strokes
from test_render_plan import _HostReads

from clipdraw.render import RenderPlan, render
from clipdraw.scene import LineCap, LineJoin, Scene

MEAN_LIMIT, WORST_LIMIT = 0.25, 32.0
SAMPLES = 16


def _polyline(vertices: list[tuple[float, float]], width: float, join: LineJoin, *,
              limit: float = 4.0, closed: bool = False, size: tuple[int, int] = (64, 48),
              colour: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0),
              background: tuple[float, ...] | None = None) -> Scene:
    """A straight polyline (butt caps), on a transparent canvas unless ``background``."""
    corners = torch.tensor(vertices, dtype=torch.float64)
    count = len(vertices) if closed else len(vertices) - 1
    points = []
    for k in range(count):
        a, b = corners[k], corners[(k + 1) % len(vertices)]
        points += [a, a + (b - a) / 3, a + 2 * (b - a) / 3]
    if not closed:
        points.append(corners[-1])
    return Scene.create(torch.stack(points).float()[None], torch.tensor([count]), *size,
                        stroke_width=width, stroke_color=torch.tensor(colour), closed=closed,
                        linecap=LineCap.BUTT, linejoin=join, miter_limit=limit,
                        background=background)


def _inside_convex(samples: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Whether each sample lies in the convex polygon (either orientation)."""
    edges = np.roll(polygon, -1, axis=0) - polygon
    relative = samples[:, None, :] - polygon[None]
    cross = edges[None, :, 0] * relative[..., 1] - edges[None, :, 1] * relative[..., 0]
    return (cross >= 0).all(1) | (cross <= 0).all(1)


def _reference(scene: Scene) -> np.ndarray:
    """Exact SVG 1.1 coverage ``(H, W)`` of the scene's one straight polyline."""
    count, closed = int(scene.num_segments[0, 0]), bool(scene.closed[0, 0])
    corners = scene.points[0, 0, : 3 * count + (0 if closed else 1) : 3].double().numpy()
    radius = float(scene.stroke_width[0, 0]) / 2
    join, limit = LineJoin(int(scene.linejoin[0, 0])), float(scene.miter_limit[0, 0])
    polygons, discs, directions = [], [], []
    for k in range(count):
        a, b = corners[k], corners[(k + 1) % len(corners)]
        direction = (b - a) / np.linalg.norm(b - a)
        normal = radius * np.array([-direction[1], direction[0]])
        polygons.append(np.array([a + normal, b + normal, b - normal, a - normal]))
        directions.append(direction)
    for k in range(count if closed else count - 1):
        joint = corners[(k + 1) % len(corners)]
        arriving, leaving = directions[k], directions[(k + 1) % count]
        turn = arriving[0] * leaving[1] - arriving[1] * leaving[0]
        if join == LineJoin.ROUND:
            discs.append(joint)
            continue
        if abs(turn) < 1e-12:
            continue
        outer = -np.sign(turn) * radius
        corner_in = joint + outer * np.array([-arriving[1], arriving[0]])
        corner_out = joint + outer * np.array([-leaving[1], leaving[0]])
        cos_half = np.linalg.norm(arriving + leaving) / 2
        if join == LineJoin.MITER and 1 / cos_half <= limit:
            bisector = (arriving - leaving) / np.linalg.norm(arriving - leaving)
            tip = joint + bisector * radius / cos_half
            polygons.append(np.array([joint, corner_in, tip, corner_out]))
        else:
            polygons.append(np.array([joint, corner_in, corner_out]))
    height, width = scene.height, scene.width
    rows, columns = np.mgrid[0 : height * SAMPLES, 0 : width * SAMPLES]
    samples = np.stack([columns.ravel() + 0.5, rows.ravel() + 0.5], 1) / SAMPLES
    hit = np.zeros(len(samples), dtype=bool)
    for polygon in polygons:
        hit |= _inside_convex(samples, polygon)
    for centre in discs:
        hit |= np.hypot(*(samples - centre).T) <= radius
    return hit.reshape(height, SAMPLES, width, SAMPLES).mean((1, 3))


def _coverage(scene: Scene) -> np.ndarray:
    with torch.no_grad():
        return render(scene)[0, 3].double().numpy()


V = [(8.0, 40.0), (32.0, 8.0), (56.0, 40.0)]  # 74 degrees: miter ratio 1.67
SHARP = [(8.0, 40.0), (32.0, 8.0), (24.0, 40.0)]  # 23 degrees: miter ratio 5.05
ZIGZAG = [(4.0, 40.0), (20.0, 8.0), (30.0, 40.0), (40.0, 10.0), (60.0, 30.0)]
TRIANGLE = [(14.0, 38.0), (32.0, 10.0), (50.0, 38.0)]

CASES = {
    "miter-obtuse": lambda: _polyline(V, 6.0, LineJoin.MITER),
    "bevel-obtuse": lambda: _polyline(V, 6.0, LineJoin.BEVEL),
    "miter-sharp-under-the-limit": lambda: _polyline(SHARP, 6.0, LineJoin.MITER, limit=5.1),
    "miter-sharp-over-the-limit-is-bevelled": lambda: _polyline(SHARP, 6.0, LineJoin.MITER,
                                                                limit=5.0),
    "bevel-sharp": lambda: _polyline(SHARP, 6.0, LineJoin.BEVEL),
    "miter-zigzag-thin": lambda: _polyline(ZIGZAG, 1.5, LineJoin.MITER),
    "miter-zigzag-hairline": lambda: _polyline(ZIGZAG, 0.7, LineJoin.MITER),
    "miter-closed-joins-at-its-start": lambda: _polyline(TRIANGLE, 5.0, LineJoin.MITER,
                                                         closed=True),
    "bevel-closed-wide": lambda: _polyline(TRIANGLE, 9.0, LineJoin.BEVEL, closed=True),
    "miter-slight-turn": lambda: _polyline([(4.0, 30.0), (30.0, 22.0), (60.0, 30.0)], 8.0,
                                           LineJoin.MITER),
    "miter-at-scale-three": lambda: _polyline([(2.0, 12.0), (9.0, 3.0), (16.0, 13.0)], 2.0,
                                              LineJoin.MITER, size=(20, 16)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_join_coverage_matches_the_exact_svg_outline(name: str) -> None:
    scene = CASES[name]()
    scale = 3.0 if "scale-three" in name else 1.0
    expected = _reference(scene.replace(points=scene.points * scale,
                                        stroke_width=scene.stroke_width * scale,
                                        width=round(scene.width * scale),
                                        height=round(scene.height * scale)))
    with torch.no_grad():
        ours = render(scene, scale=scale)[0, 3].double().numpy()
    errors = np.abs(ours - expected) * 255
    print(f"{name}: mean {errors.mean():.3f}/255, max {errors.max():.1f}/255")
    assert errors.mean() <= MEAN_LIMIT and errors.max() <= WORST_LIMIT, (
        name, errors.mean(), errors.max())


@pytest.mark.parametrize("name", ["miter-obtuse", "bevel-obtuse", "miter-closed-joins-at-its-start",
                                  "miter-sharp-over-the-limit-is-bevelled"])
def test_a_join_drawn_round_fails_the_reference(name: str) -> None:
    # The reference test can fail: the same scene with round joins is far off at its corners.
    scene = CASES[name]()
    rounded = _coverage(scene.replace(linejoin=torch.zeros_like(scene.linejoin)))
    assert np.abs(rounded - _reference(scene)).max() * 255 > 4 * WORST_LIMIT


def test_miter_limit_at_the_ratio_is_still_a_miter() -> None:
    # SVG 1.1: the join is bevelled when the ratio *exceeds* the limit. A right angle's ratio
    # is sqrt(2); the miter's tip pixel is covered at the limit and not just below it.
    corner = [(6.0, 20.0), (20.0, 6.0), (34.0, 20.0)]
    ratio = math.sqrt(2)
    at = _coverage(_polyline(corner, 8.0, LineJoin.MITER, limit=ratio, size=(40, 28)))
    below = _coverage(_polyline(corner, 8.0, LineJoin.MITER, limit=ratio - 1e-3, size=(40, 28)))
    # The tip is at (20, 6 - 4 sqrt 2) = (20, 0.34): pixel row 0 holds 0.43 px of it.
    assert at[0].sum() > 0.3 and below[0].sum() < 0.01


def _check_gradient(scene: Scene, field: str, indices: list[tuple], step: float = 1e-2) -> None:
    """Autograd vs central differences of ``sum(image * w)`` in ``field`` at ``indices``."""
    base = getattr(scene, field).detach().clone()
    weights = torch.rand(render(scene).shape, generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64)

    def loss(value: torch.Tensor) -> torch.Tensor:
        return (render(scene.replace(**{field: value})).double() * weights).sum()

    variable = base.clone().requires_grad_(True)
    loss(variable).backward()
    autograd = torch.stack([variable.grad[i] for i in indices]).double()
    numeric = []
    for i in indices:
        plus, minus = base.clone(), base.clone()
        plus[i] += step
        minus[i] -= step
        with torch.no_grad():
            numeric.append((loss(plus) - loss(minus)) / (2 * step))
    numeric = torch.stack(numeric)
    error = (autograd - numeric).norm() / numeric.norm()
    print(f"{field}: relative gradient error {error:.4f}")
    assert numeric.norm() > 0 and error <= 0.1, (autograd.tolist(), numeric.tolist())


def _gradient_scene(join: LineJoin) -> Scene:
    # Closed, so that every end point is a joint (no caps) and every point moves a join; on
    # white, as straight colour jumps where alpha leaves 0.
    corners = [(5.0, 24.0), (16.0, 5.0), (27.0, 22.0)]
    return _polyline(corners, 5.0, join, closed=True, size=(32, 30),
                     colour=(0.2, 0.5, 0.3, 0.8), background=(1.0, 1.0, 1.0, 1.0))


@pytest.mark.parametrize("join", [LineJoin.MITER, LineJoin.BEVEL])
def test_join_point_gradients_match_finite_differences(join: LineJoin) -> None:
    # Points 0, 3 and 6 are joints; 1, 2, 4, 5, 7 and 8 the handles that turn them.
    _check_gradient(_gradient_scene(join), "points",
                    [(0, 0, p, c) for p in range(9) for c in range(2)])


@pytest.mark.parametrize("join", [LineJoin.MITER, LineJoin.BEVEL])
def test_join_width_gradient_matches_finite_differences(join: LineJoin) -> None:
    _check_gradient(_gradient_scene(join), "stroke_width", [(0, 0)])


def _mixed_joins() -> Scene:
    scene = random_strokes(width=5.0)
    joins = torch.arange(scene.num_paths).remainder(3)[None]
    return scene.replace(linejoin=joins, miter_limit=torch.full_like(scene.stroke_width, 6.0))


def test_planned_join_render_gives_the_pixels_and_gradients_of_a_measured_one() -> None:
    scene = _mixed_joins()

    def rendered(plan: RenderPlan | None) -> tuple[torch.Tensor, torch.Tensor]:
        points = scene.points.clone().requires_grad_(True)
        image = render(scene.replace(points=points), plan=plan)
        image.square().sum().backward()
        return image.detach(), points.grad

    expected, expected_grad = rendered(None)
    plan = RenderPlan()
    rendered(plan)
    with _HostReads() as reads:
        image, grad = rendered(plan)
    assert reads.seen == [] and plan.fits()
    assert (image - expected).abs().max() <= 1e-6
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-5)


def test_a_plan_measured_without_joins_does_not_fit_a_scene_with_them() -> None:
    round_only = random_strokes(width=5.0)
    plan = RenderPlan()
    render(round_only, plan=plan)
    mitred = round_only.replace(linejoin=torch.ones_like(round_only.linejoin))
    render(mitred, plan=plan)
    assert not plan.fits()
    again = render(mitred, plan=plan)
    torch.testing.assert_close(again, render(mitred))


def test_compiled_join_render_gives_the_pixels_and_gradients_of_eager_render() -> None:
    scene = _mixed_joins()
    results = []
    for compile in (False, True):
        leaf = scene.points.clone().requires_grad_(True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = render(scene.replace(points=leaf), compile=compile)
            image.square().sum().backward()
        assert not [w for w in caught if "torch.compile failed" in str(w.message)]
        results.append((image.detach(), leaf.grad))
    (eager, eager_grad), (compiled, compiled_grad) = results
    assert (compiled - eager).abs().max() <= 1e-5
    scale = max(1.0, eager_grad.abs().max().item())
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-4, atol=1e-4 * scale)


def test_scenes_of_round_joins_do_no_join_work(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("join work in a scene of round joins")

    monkeypatch.setattr("clipdraw.render.rasterise.joint_table", refuse)
    scene = random_strokes()
    assert (scene.linejoin == LineJoin.ROUND).all()
    render(scene)
    # Non-round joins on unstroked paths need no work either.
    render(scene.replace(linejoin=torch.ones_like(scene.linejoin),
                         stroked=torch.zeros_like(scene.stroked)))


def test_joins_of_a_segment_that_does_not_move_stay_round() -> None:
    # A zero-length segment gives its joints no direction; the stroke stays finite and round.
    points = torch.tensor([[4.0, 20.0], [8, 16], [12, 12], [16, 8], [16, 8], [16, 8], [16, 8],
                           [20, 12], [24, 16], [28, 20]])
    scene = Scene.create(points[None], torch.tensor([3]), 32, 24, stroke_width=4.0,
                         stroke_color=torch.tensor([0.0, 0, 0, 1]), linejoin=LineJoin.MITER)
    image = render(scene)
    assert torch.isfinite(image).all()
    torch.testing.assert_close(image, render(scene.replace(
        linejoin=torch.zeros_like(scene.linejoin))))


@pytest.mark.parametrize(("change", "field"), [
    (lambda s: s.replace(linejoin=s.linejoin + 3), "linejoin"),
    (lambda s: s.replace(miter_limit=s.miter_limit * 0 + 0.5), "miter_limit"),
    (lambda s: s.replace(miter_limit=s.miter_limit * float("nan")), "miter_limit"),
    (lambda s: s.replace(linejoin=s.linejoin[:, :0]), "linejoin"),
])
def test_bad_join_fields_are_named(change, field: str) -> None:
    scene = _polyline(V, 2.0, LineJoin.MITER)
    with pytest.raises(ValueError, match=field):
        change(scene).validate()


def test_scenes_default_to_round_joins_and_concat_pads_with_valid_joins() -> None:
    scene = random_strokes(count=3)
    assert (scene.linejoin == LineJoin.ROUND).all() and (scene.miter_limit == 4.0).all()
    both = Scene.concat([scene, _polyline(V, 2.0, LineJoin.BEVEL, size=(48, 40))]).validate()
    assert both.linejoin[1].tolist() == [LineJoin.BEVEL, LineJoin.ROUND, LineJoin.ROUND]
    assert both.miter_limit[1].tolist() == [4.0, 4.0, 4.0]
