"""Tests of :func:`clipdraw.render.render` against the brute-force reference in ``reference.py``.

Accuracy criterion (issue): mean absolute error <= 0.5/255 over all pixels and channels of the
RGB image composited over white. That bound is loose enough to pass a renderer whose
anti-aliasing is wrong (a linear coverage ramp instead of the exact box filter stays under it),
so each scene also has its own limit: its measured error plus about 25 %, rounded up to
0.01/255. A ramp raises every scene's error by 48 % or more. Also gradients (finite
differences), degenerate inputs (no NaN/inf) and input validation.
``pytest -rP tests/test_render.py`` prints the measured errors.
"""

from __future__ import annotations

import math

import pytest
import torch
from reference import over_white, reference_render

from clipdraw.render import render
from clipdraw.scene import FillRule, LineCap, Scene

MEAN_TOLERANCE = 0.5 / 255

BLUE = (0.1, 0.3, 0.8, 1.0)
HALF_BLACK = (0.0, 0.0, 0.0, 0.5)


# ---------------------------------------------------------------------------------------------
# Scene builders


def _path_points(segments: list[list[tuple[float, float]]]) -> torch.Tensor:
    """Control points ``(P, 2)`` of one chained path from its segments' 4-point lists."""
    chain = [segments[0][0]]
    for segment in segments:
        chain.extend(segment[1:])
    return torch.tensor(chain, dtype=torch.float32)


def _stroke_scene(
    paths: list[torch.Tensor], width: int, height: int, *, stroke_width: float | list[float],
    colours: list[tuple[float, float, float, float]], linecap: LineCap = LineCap.ROUND,
    background: tuple[float, float, float, float] | None = (1.0, 1.0, 1.0, 1.0),
) -> Scene:
    """Open stroked paths (each ``(3k + 1, 2)``) padded into one canvas."""
    slots = max(p.shape[0] for p in paths)
    points = torch.stack([torch.nn.functional.pad(p, (0, 0, 0, slots - p.shape[0]))
                          for p in paths])
    segments = torch.tensor([(p.shape[0] - 1) // 3 for p in paths])
    widths = torch.as_tensor(stroke_width, dtype=torch.float32).expand(len(paths)).clone()
    return Scene.create(points, segments, width, height, stroke_width=widths,
                        stroke_color=torch.tensor(colours), linecap=linecap,
                        background=background)


def _closed_scene(
    paths: list[torch.Tensor], width: int, height: int, *, fill: tuple[float, ...],
    fill_rule: FillRule, compound: list[int] | None = None,
    stroke: tuple[float, ...] | None = None, stroke_width: float = 1.0,
) -> Scene:
    """Closed filled paths (each ``(3k, 2)``), optionally stroked, sub-paths per ``compound``."""
    slots = max(p.shape[0] for p in paths)
    points = torch.stack([torch.nn.functional.pad(p, (0, 0, 0, slots - p.shape[0]))
                          for p in paths])
    segments = torch.tensor([p.shape[0] // 3 for p in paths])
    n = len(paths)
    return Scene.create(
        points, segments, width, height, closed=True, fill_color=torch.tensor([fill] * n),
        stroke_color=None if stroke is None else torch.tensor([stroke] * n),
        stroke_width=stroke_width, fill_rule=fill_rule,
        compound=None if compound is None else torch.tensor(compound),
    )


def _polygon(vertices: list[tuple[float, float]]) -> torch.Tensor:
    """A closed path ``(3k, 2)`` of straight cubic segments through ``vertices``."""
    out = []
    for k, a in enumerate(vertices):
        b = vertices[(k + 1) % len(vertices)]
        out += [a, (a[0] + (b[0] - a[0]) / 3, a[1] + (b[1] - a[1]) / 3),
                (a[0] + 2 * (b[0] - a[0]) / 3, a[1] + 2 * (b[1] - a[1]) / 3)]
    return torch.tensor(out, dtype=torch.float32)


def _circle(cx: float, cy: float, r: float, clockwise: bool = True) -> torch.Tensor:
    """A closed 4-segment cubic approximation of a circle ``(12, 2)``."""
    k = 0.5522847498 * r
    sign = 1.0 if clockwise else -1.0
    pts = []
    for q in range(4):
        angle = sign * q * math.pi / 2
        c, s = math.cos(angle), math.sin(angle)
        nxt = sign * (q + 1) * math.pi / 2
        c2, s2 = math.cos(nxt), math.sin(nxt)
        p0 = (cx + r * c, cy + r * s)
        p3 = (cx + r * c2, cy + r * s2)
        pts += [p0, (p0[0] - sign * k * s, p0[1] + sign * k * c),
                (p3[0] + sign * k * s2, p3[1] - sign * k * c2)]
    return torch.tensor(pts, dtype=torch.float32)


def _pentagram(cx: float, cy: float, r: float) -> torch.Tensor:
    """A self-intersecting five-pointed star (every second vertex of a pentagon)."""
    angles = [-math.pi / 2 + k * 4 * math.pi / 5 for k in range(5)]
    return _polygon([(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles])


CURVE = _path_points([[(5.0, 24.0), (10.0, 2.0), (22.0, 30.0), (27.0, 8.0)]])


# ---------------------------------------------------------------------------------------------
# Comparison helpers


def _errors(image: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """Absolute differences of the RGB-over-white images."""
    return (over_white(image.detach().double()) - over_white(expected)).abs()


def _assert_matches_reference(scene: Scene, limit: float, scale: float = 1.0) -> torch.Tensor:
    """Render and compare with the reference: mean error <= ``limit``/255 (this scene's limit)
    and <= 0.5/255 (the issue's); return the rendered image."""
    image = render(scene, scale=scale)
    expected = reference_render(scene, scale)
    assert image.shape == expected.shape, (image.shape, expected.shape)
    errors = _errors(image, expected)
    print(f"vs reference (scale {scale}): mean {errors.mean() * 255:.4f}/255 "
          f"(limit {limit}/255), max {errors.max() * 255:.1f}/255")
    assert errors.mean() <= min(limit / 255, MEAN_TOLERANCE), (
        f"mean abs error {errors.mean() * 255:.4f}/255 > {limit}/255 "
        f"(max {errors.max() * 255:.1f}/255)"
    )
    return image


# ---------------------------------------------------------------------------------------------
# Accuracy against the reference


@pytest.mark.parametrize(("stroke_width", "limit"),
                         [(0.5, 0.06), (1.0, 0.06), (2.0, 0.06), (6.0, 0.13), (20.0, 0.09)])
def test_single_stroke_coverage_matches_reference(stroke_width: float, limit: float) -> None:
    scene = _stroke_scene([CURVE], 32, 32, stroke_width=stroke_width, colours=[BLUE])
    _assert_matches_reference(scene, limit)


def test_overlapping_translucent_strokes_match_reference_on_non_square_canvas() -> None:
    paths = [
        _path_points([[(3.0, 5.0), (20.0, 40.0), (30.0, -5.0), (45.0, 30.0)]]),
        _path_points([[(2.0, 30.0), (15.0, 20.0), (30.0, 20.0), (46.0, 6.0)],
                      [(46.0, 6.0), (40.0, 20.0), (30.0, 36.0), (20.0, 36.0)]]),
        _path_points([[(24.0, 2.0), (10.0, 15.0), (38.0, 25.0), (24.0, 38.0)]]),
    ]
    colours = [(0.9, 0.1, 0.1, 0.6), (0.1, 0.7, 0.2, 0.4), (0.2, 0.2, 0.9, 0.75)]
    scene = _stroke_scene(paths, 48, 40, stroke_width=[5.0, 3.0, 8.0], colours=colours)
    _assert_matches_reference(scene, 0.11)


def _v_path() -> torch.Tensor:
    """Two straight segments meeting at a sharp (about 49 degree) join at (16, 5)."""
    a, b, c = (6.0, 27.0), (16.0, 5.0), (26.0, 27.0)

    def straight(p, q):
        return [p, (p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3),
                (p[0] + 2 * (q[0] - p[0]) / 3, p[1] + 2 * (q[1] - p[1]) / 3), q]

    return _path_points([straight(a, b), straight(b, c)])


def _assert_uniform_where_fully_covered(image: torch.Tensor, expected: torch.Tensor,
                                        near: tuple[float, float]) -> None:
    """Pixels the reference covers fully must equal the body colour, especially near ``near``."""
    rgb = over_white(image.detach().double())[0]
    want = over_white(expected)[0]
    full = (want - want.amin(dim=(1, 2), keepdim=True)).abs().sum(0) < 1e-12
    ys, xs = torch.meshgrid(torch.arange(rgb.shape[1]) + 0.5, torch.arange(rgb.shape[2]) + 0.5,
                            indexing="ij")
    close = (xs - near[0]) ** 2 + (ys - near[1]) ** 2 <= 4.0**2
    at_join = full & close
    assert at_join.any(), "test set-up: no fully covered pixel near the join"
    body = want[:, full][:, 0]
    deviation = (rgb[:, at_join] - body[:, None]).abs().max()
    assert deviation <= 1 / 255, (
        f"fully covered pixels at the join deviate from the body colour by "
        f"{deviation * 255:.2f}/255 (the stroke is painted twice there)"
    )
    deviations = (rgb - body[:, None, None]).abs().amax(0) * full
    worst = int(deviations.argmax())
    y, x = divmod(worst, rgb.shape[2])
    assert deviations.max() <= 1 / 255, (
        f"fully covered pixels deviate from the body colour by up to "
        f"{deviations.max() * 255:.2f}/255, worst at (x={x}, y={y}): "
        f"{(rgb[:, y, x] * 255).tolist()} vs {(body * 255).tolist()}"
    )


def test_translucent_stroke_does_not_darken_its_own_join() -> None:
    scene = _stroke_scene([_v_path()], 32, 32, stroke_width=6.0, colours=[HALF_BLACK])
    image = _assert_matches_reference(scene, 0.11)
    _assert_uniform_where_fully_covered(image, reference_render(scene), near=(16.0, 5.0))


def test_translucent_closed_stroke_does_not_darken_where_it_closes() -> None:
    outline = _polygon([(6.0, 6.0), (26.0, 8.0), (16.0, 27.0)])
    scene = Scene.create(outline[None], torch.tensor([3]), 32, 32, closed=True,
                         stroke_width=5.0, stroke_color=torch.tensor([HALF_BLACK]))
    image = _assert_matches_reference(scene, 0.06)
    _assert_uniform_where_fully_covered(image, reference_render(scene), near=(6.0, 6.0))


def test_translucent_stroke_does_not_darken_where_it_crosses_itself_smoothly() -> None:
    # A loop: the SVG stroke is one union, so the crossing is painted once, not twice.
    loop = _path_points([[(4.0, 26.0), (40.0, 2.0), (-8.0, 2.0), (28.0, 26.0)]])
    scene = _stroke_scene([loop], 32, 32, stroke_width=4.0, colours=[HALF_BLACK])
    image = _assert_matches_reference(scene, 0.17)
    expected = reference_render(scene)
    full = over_white(expected)[0].sub(0.5).abs().sum(0) < 1e-12
    rgb = over_white(image.detach().double())[0]
    deviation = (rgb[:, full] - 0.5).abs().max()
    assert deviation <= 1 / 255, f"fully covered pixels deviate by {deviation * 255:.2f}/255"


@pytest.mark.parametrize(("fill_rule", "limit"),
                         [(FillRule.NONZERO, 0.25), (FillRule.EVENODD, 0.16)],
                         ids=["nonzero", "evenodd"])
def test_self_intersecting_star_fill_matches_reference(fill_rule: FillRule, limit: float) -> None:
    scene = _closed_scene([_pentagram(20.0, 17.0, 15.0)], 40, 32, fill=(0.8, 0.2, 0.1, 0.7),
                          fill_rule=fill_rule)
    image = _assert_matches_reference(scene, limit)
    centre = over_white(image.detach())[0, :, 17, 20]
    if fill_rule == FillRule.NONZERO:
        assert (centre - 1).abs().max() > 0.2, f"nonzero must fill the star's centre: {centre}"
    else:
        assert (centre - 1).abs().max() < 1 / 255, f"evenodd must leave the centre empty: {centre}"


@pytest.mark.parametrize("fill_rule", [FillRule.NONZERO, FillRule.EVENODD],
                         ids=["nonzero", "evenodd"])
def test_compound_shape_with_hole_matches_reference(fill_rule: FillRule) -> None:
    # Nonzero needs the hole wound the other way; evenodd makes a hole either way.
    clockwise_hole = fill_rule == FillRule.EVENODD
    outer = _circle(20.0, 16.0, 13.0, clockwise=True)
    hole = _circle(21.0, 15.0, 5.5, clockwise=clockwise_hole)
    scene = _closed_scene([outer, hole], 40, 32, fill=(0.1, 0.5, 0.3, 0.8), fill_rule=fill_rule,
                          compound=[0, 0])
    image = _assert_matches_reference(scene, 0.14)
    centre = over_white(image.detach())[0, :, 15, 21]
    assert (centre - 1).abs().max() < 1 / 255, f"the hole must show the background: {centre}"


def test_filled_and_stroked_path_matches_reference() -> None:
    blob = _polygon([(5.0, 5.0), (27.0, 9.0), (22.0, 27.0), (8.0, 20.0)])
    scene = _closed_scene([blob], 32, 32, fill=(0.9, 0.8, 0.1, 0.6), fill_rule=FillRule.NONZERO,
                          stroke=(0.2, 0.1, 0.6, 0.5), stroke_width=3.0)
    _assert_matches_reference(scene, 0.06)


@pytest.mark.parametrize(("linecap", "limit"),
                         [(LineCap.BUTT, 0.10), (LineCap.ROUND, 0.11), (LineCap.SQUARE, 0.13)],
                         ids=["butt", "round", "square"])
def test_line_caps_match_reference(linecap: LineCap, limit: float) -> None:
    path = _path_points([[(9.0, 20.0), (15.0, 5.0), (25.0, 30.0), (31.0, 11.0)]])
    scene = _stroke_scene([path], 40, 32, stroke_width=9.0, colours=[(0.6, 0.1, 0.5, 0.9)],
                          linecap=linecap)
    _assert_matches_reference(scene, limit)


def test_butt_and_square_caps_differ_by_the_extension() -> None:
    path = _path_points([[(8.0, 10.0), (14.0, 10.0), (20.0, 10.0), (26.0, 10.0)]])
    alphas = {}
    for cap in (LineCap.BUTT, LineCap.SQUARE, LineCap.ROUND):
        scene = _stroke_scene([path], 34, 20, stroke_width=6.0, colours=[(0, 0, 0, 1.0)],
                              linecap=cap, background=None)
        alphas[cap] = render(scene)[0, 3].detach().double().sum().item()
    assert abs(alphas[LineCap.BUTT] - 18 * 6) < 0.5, alphas
    assert abs(alphas[LineCap.SQUARE] - 24 * 6) < 0.5, alphas
    assert abs(alphas[LineCap.ROUND] - (18 * 6 + math.pi * 9)) < 0.5, alphas


def test_scale_two_matches_reference() -> None:
    paths = [_path_points([[(2.0, 3.0), (10.0, 25.0), (16.0, -5.0), (22.0, 15.0)]]),
             _path_points([[(3.0, 18.0), (8.0, 2.0), (16.0, 8.0), (21.0, 3.0)]])]
    scene = _stroke_scene(paths, 24, 20, stroke_width=[2.5, 1.0],
                          colours=[(0.9, 0.4, 0.0, 0.8), (0.0, 0.4, 0.9, 0.6)])
    image = _assert_matches_reference(scene, 0.06, scale=2.0)
    assert image.shape == (1, 4, 40, 48)


def test_transparent_background_matches_reference_in_alpha_and_premultiplied_colour() -> None:
    paths = [CURVE, _path_points([[(2.0, 4.0), (12.0, 12.0), (20.0, 4.0), (30.0, 28.0)]])]
    scene = _stroke_scene(paths, 32, 32, stroke_width=[4.0, 2.0],
                          colours=[(0.9, 0.2, 0.1, 0.7), (0.1, 0.3, 0.9, 0.5)], background=None)
    image = _assert_matches_reference(scene, 0.08).detach().double()
    expected = reference_render(scene)
    premultiplied = torch.cat([image[:, :3] * image[:, 3:], image[:, 3:]], dim=1)
    expected_premultiplied = torch.cat([expected[:, :3] * expected[:, 3:], expected[:, 3:]], 1)
    errors = (premultiplied - expected_premultiplied).abs()
    print(f"premultiplied RGBA: mean {errors.mean() * 255:.4f}/255 (limit 0.07/255)")
    assert errors.mean() <= min(0.07 / 255, MEAN_TOLERANCE), (
        f"premultiplied RGBA mean error {errors.mean() * 255:.4f}/255 > 0.07/255 "
        f"(max {errors.max() * 255:.1f}/255)"
    )
    assert image[0, 3, 0, 31] == 0, "an untouched pixel must stay transparent"


def test_batch_renders_each_canvas_like_alone() -> None:
    one = _stroke_scene([CURVE], 32, 32, stroke_width=3.0, colours=[BLUE])
    two = _stroke_scene([_v_path()], 32, 32, stroke_width=5.0, colours=[HALF_BLACK])
    both = render(Scene.concat([one, two])).detach()
    assert torch.allclose(both[0:1], render(one).detach(), atol=1e-5)
    assert torch.allclose(both[1:2], render(two).detach(), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Gradients


def _weights(shape: torch.Size, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _loss(scene: Scene, weights: torch.Tensor) -> torch.Tensor:
    return (render(scene).double() * weights).sum()


def _check_gradient(scene: Scene, field: str, step: float, indices: list[tuple]) -> None:
    """Autograd vs central differences of ``sum(image * w)`` in ``field`` at ``indices``."""
    base = getattr(scene, field).detach().clone()
    weights = _weights(render(scene).shape)
    variable = base.clone().requires_grad_(True)
    _loss(scene.replace(**{field: variable}), weights).backward()
    autograd = torch.stack([variable.grad[i] for i in indices]).double()
    numeric = []
    for i in indices:
        plus, minus = base.clone(), base.clone()
        plus[i] += step
        minus[i] -= step
        with torch.no_grad():
            diff = _loss(scene.replace(**{field: plus}), weights) - _loss(
                scene.replace(**{field: minus}), weights)
        numeric.append(diff / (2 * step))
    numeric = torch.stack(numeric)
    assert torch.isfinite(autograd).all(), f"{field}: non-finite gradient {autograd}"
    error = (autograd - numeric).norm() / numeric.norm()
    print(f"{field}: relative gradient error {error:.4f}")
    assert numeric.norm() > 0, f"{field}: the loss does not depend on it (test set-up)"
    assert error <= 0.1, (
        f"{field}: relative error {error:.3f} > 0.1\nautograd {autograd.tolist()}\n"
        f"numeric  {numeric.tolist()}"
    )


def _smooth_scene() -> Scene:
    path = _path_points([[(6.0, 22.0), (11.0, 6.0), (20.0, 26.0), (26.0, 9.0)]])
    return _stroke_scene([path], 32, 32, stroke_width=4.0, colours=[(0.2, 0.6, 0.3, 0.8)])


def test_control_point_gradients_match_finite_differences() -> None:
    indices = [(0, 0, p, c) for p in range(4) for c in range(2)]
    _check_gradient(_smooth_scene(), "points", 1e-2, indices)


def test_stroke_width_gradient_matches_finite_differences() -> None:
    _check_gradient(_smooth_scene(), "stroke_width", 1e-2, [(0, 0)])


def test_stroke_colour_gradients_match_finite_differences() -> None:
    _check_gradient(_smooth_scene(), "stroke_color", 1e-2, [(0, 0, c) for c in range(4)])


def test_fill_point_gradients_match_finite_differences() -> None:
    blob = _circle(16.0, 15.0, 9.0)
    blob[4] += torch.tensor([3.0, -2.0])
    scene = _closed_scene([blob], 32, 32, fill=(0.7, 0.2, 0.4, 0.9), fill_rule=FillRule.NONZERO)
    indices = [(0, 0, p, c) for p in (0, 1, 4, 7) for c in range(2)]
    _check_gradient(scene, "points", 1e-2, indices)


def _assert_finite_forward_and_backward(scene: Scene) -> torch.Tensor:
    """Render with gradients on points, widths and colours; all must stay finite."""
    leaves = {name: getattr(scene, name).detach().clone().requires_grad_(True)
              for name in ("points", "stroke_width", "stroke_color", "fill_color")}
    image = render(scene.replace(**leaves))
    assert torch.isfinite(image).all(), "non-finite pixels"
    (image * _weights(image.shape).to(image.dtype)).sum().backward()
    for name, leaf in leaves.items():
        assert leaf.grad is None or torch.isfinite(leaf.grad).all(), f"non-finite {name} grad"
    return image.detach()


def _background_only(image: torch.Tensor, scene: Scene) -> bool:
    return torch.allclose(image, scene.background[:, :, None, None].expand_as(image), atol=1e-6)


def test_zero_length_segment_gives_finite_values_and_gradients() -> None:
    dot = torch.tensor([[12.0, 12.0]] * 4)
    for cap in (LineCap.BUTT, LineCap.ROUND, LineCap.SQUARE):
        _assert_finite_forward_and_backward(
            _stroke_scene([dot], 24, 24, stroke_width=4.0, colours=[BLUE], linecap=cap))


def test_coincident_handles_give_finite_values_and_gradients() -> None:
    paths = [torch.tensor([[4.0, 4.0], [4.0, 4.0], [20.0, 20.0], [20.0, 20.0]]),
             torch.tensor([[4.0, 20.0], [12.0, 4.0], [12.0, 4.0], [20.0, 20.0]])]
    _assert_finite_forward_and_backward(
        _stroke_scene(paths, 24, 24, stroke_width=3.0, colours=[BLUE, HALF_BLACK]))


def test_pixel_centre_exactly_on_the_curve_gives_finite_gradients() -> None:
    line = torch.tensor([[4.5, 10.5], [10.5, 10.5], [18.5, 10.5], [27.5, 10.5]])
    _assert_finite_forward_and_backward(
        _stroke_scene([line], 32, 20, stroke_width=2.0, colours=[BLUE]))


def test_opaque_strokes_over_each_other_give_finite_gradients() -> None:
    paths = [CURVE, CURVE.flip(0), CURVE + 0.25]
    image = _assert_finite_forward_and_backward(
        _stroke_scene(paths, 32, 32, stroke_width=6.0,
                      colours=[(1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0)]))
    assert torch.isfinite(image).all()


def test_strokes_off_the_canvas_leave_the_background() -> None:
    paths = [CURVE + torch.tensor([100.0, 0.0]), CURVE - torch.tensor([0.0, 90.0])]
    scene = _stroke_scene(paths, 32, 32, stroke_width=3.0, colours=[BLUE, BLUE])
    assert _background_only(_assert_finite_forward_and_backward(scene), scene)


def test_zero_width_stroke_leaves_the_background() -> None:
    scene = _stroke_scene([CURVE], 32, 32, stroke_width=0.0, colours=[BLUE])
    assert _background_only(_assert_finite_forward_and_backward(scene), scene)


def test_empty_scene_renders_the_background() -> None:
    background = (0.2, 0.4, 0.6, 0.8)
    scene = Scene.create(torch.zeros(1, 0, 4, 2), torch.zeros(1, 0, dtype=torch.long), 16, 12,
                         background=background)
    image = render(scene)
    assert image.shape == (1, 4, 12, 16)
    assert _background_only(image, scene)


def test_path_with_no_segments_draws_nothing() -> None:
    scene = _stroke_scene([CURVE], 32, 32, stroke_width=4.0, colours=[BLUE])
    scene = scene.replace(num_segments=torch.zeros_like(scene.num_segments))
    assert _background_only(_assert_finite_forward_and_backward(scene), scene)


# ---------------------------------------------------------------------------------------------
# Input validation


def _valid_scene() -> Scene:
    return _stroke_scene([CURVE], 32, 32, stroke_width=2.0, colours=[BLUE])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s.replace(points=s.points.clone().index_fill_(2, torch.tensor([1]),
                                                                 float("nan"))), "points"),
        (lambda s: s.replace(points=torch.zeros(1, 1, 4, 3)), "points"),
        (lambda s: s.replace(stroke_width=-s.stroke_width), "stroke_width"),
        (lambda s: s.replace(stroke_color=s.stroke_color * 2), "stroke_color"),
        (lambda s: s.replace(width=0), "width|canvas size"),
        (lambda s: s.replace(height=-3), "height|canvas size"),
    ],
    ids=["nan-points", "points-shape", "negative-width", "colour-above-one", "zero-width-canvas",
         "negative-height-canvas"],
)
def test_bad_input_raises_value_error_naming_the_field(change, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        render(change(_valid_scene()))


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_non_positive_scale_raises_value_error(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        render(_valid_scene(), scale=scale)


# ---------------------------------------------------------------------------------------------
# Reference self-checks (validate the oracle itself against hand-computed areas)


def test_reference_butt_stroke_is_an_exact_rectangle() -> None:
    path = _path_points([[(4.0, 10.0), (12.0, 10.0), (20.0, 10.0), (28.0, 10.0)]])
    scene = _stroke_scene([path], 32, 20, stroke_width=6.0, colours=[(0, 0, 0, 1.0)],
                          linecap=LineCap.BUTT, background=None)
    alpha = reference_render(scene)[0, 3]
    expected = torch.zeros(20, 32, dtype=torch.float64)
    expected[7:13, 4:28] = 1
    assert torch.equal(alpha, expected)


def test_reference_round_and_square_caps_add_the_right_areas() -> None:
    path = _path_points([[(4.0, 10.0), (12.0, 10.0), (20.0, 10.0), (28.0, 10.0)]])
    areas = {}
    for cap in (LineCap.ROUND, LineCap.SQUARE):
        scene = _stroke_scene([path], 34, 20, stroke_width=6.0, colours=[(0, 0, 0, 1.0)],
                              linecap=cap, background=None)
        areas[cap] = reference_render(scene)[0, 3].sum().item()
    assert areas[LineCap.SQUARE] == 30 * 6
    assert abs(areas[LineCap.ROUND] - (24 * 6 + math.pi * 9)) < 0.1


def test_reference_filled_square_is_exact_and_translucent_over_white() -> None:
    square = _polygon([(3.0, 4.0), (13.0, 4.0), (13.0, 14.0), (3.0, 14.0)])
    scene = _closed_scene([square], 16, 16, fill=(0.0, 0.0, 1.0, 0.5), fill_rule=FillRule.NONZERO)
    image = reference_render(scene)[0]
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[4:14, 3:13] = True
    assert torch.allclose(image[:, inside], torch.tensor([[0.5], [0.5], [1.0], [1.0]],
                                                         dtype=torch.float64))
    assert torch.equal(image[:, ~inside], torch.ones(4, int((~inside).sum()), dtype=torch.float64))


def test_reference_culling_changes_nothing() -> None:
    paths = [_v_path(), CURVE]
    for cap in (LineCap.BUTT, LineCap.SQUARE):
        scene = _stroke_scene(paths, 20, 16, stroke_width=[5.0, 1.5],
                              colours=[HALF_BLACK, BLUE], linecap=cap)
        assert torch.equal(reference_render(scene, samples_per_side=8),
                           reference_render(scene, samples_per_side=8, cull=False))
    blob = _closed_scene([_pentagram(10.0, 8.0, 7.0)], 20, 16, fill=(1.0, 0.0, 0.0, 0.5),
                         fill_rule=FillRule.EVENODD, stroke=HALF_BLACK, stroke_width=2.0)
    assert torch.equal(reference_render(blob, samples_per_side=8),
                       reference_render(blob, samples_per_side=8, cull=False))


# ---------------------------------------------------------------------------------------------
# Optional diffvg backend


def test_diffvg_backend_matches_reference_loosely() -> None:
    pytest.importorskip("pydiffvg")
    scene = _stroke_scene([CURVE], 32, 32, stroke_width=4.0, colours=[(0.9, 0.2, 0.1, 0.7)])
    image = render(scene, backend="diffvg")
    errors = _errors(image, reference_render(scene))
    assert errors.mean() <= 2 / 255, f"diffvg mean error {errors.mean() * 255:.2f}/255"
