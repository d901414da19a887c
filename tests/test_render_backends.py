"""The backend switch of `clipdraw.render` and the optional pydiffvg backend's conversions.

pydiffvg is rarely installed, so its scene conversion is checked against a stand-in module that
records what it is given; the real library is compared with the reference in test_render.py.
"""

import sys
import types
import warnings

import pytest
import torch
from helpers import fills_and_caps, random_strokes

from clipdraw import render
from clipdraw.render import available_backends
from clipdraw.render.composite import over


def test_clipdraw_render_is_both_the_function_and_the_subpackage():
    import inspect

    import clipdraw
    from clipdraw.render.api import render as function
    from clipdraw.render.plan import RenderPlan

    assert clipdraw.render.RenderPlan is RenderPlan and clipdraw.render.render is function
    assert torch.equal(clipdraw.render(fills_and_caps(), scale=2), function(fills_and_caps(),
                                                                           scale=2))
    assert list(inspect.signature(clipdraw.render).parameters)[0] == "scene"


def test_torch_backend_is_always_available_and_diffvg_only_when_importable():
    backends = available_backends()
    assert backends[0] == "torch"
    assert ("diffvg" in backends) == (
        __import__("importlib").util.find_spec("pydiffvg") is not None)


def test_unknown_backend_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError, match="unknown backend 'cairo'.*torch"):
        render(fills_and_caps(), backend="cairo")


def test_missing_pydiffvg_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydiffvg", None)  # makes `import pydiffvg` fail
    with pytest.raises(ValueError, match="pydiffvg"):
        render(fills_and_caps(), backend="diffvg")


def test_over_composites_straight_alpha_like_the_formula():
    image = torch.tensor([0.2, 0.4, 0.6, 0.5]).view(4, 1, 1)
    background = torch.tensor([1.0, 1.0, 0.0, 0.5])
    out = over(image, background[:, None, None])[:, 0, 0]
    alpha = 0.5 + 0.5 * 0.5
    expected_rgb = (torch.tensor([0.2, 0.4, 0.6]) * 0.5 + torch.tensor([1.0, 1.0, 0.0]) * 0.25)
    torch.testing.assert_close(out, torch.cat([expected_rgb / alpha, torch.tensor([alpha])]))


def test_diffvg_backend_converts_widths_points_groups_and_fill_rules(monkeypatch):
    recorded = {}

    def path(num_control_points, points, stroke_width, is_closed):
        return types.SimpleNamespace(num_control_points=num_control_points, points=points,
                                     stroke_width=stroke_width, is_closed=is_closed)

    def group(shape_ids, fill_color, stroke_color, use_even_odd_rule):
        return types.SimpleNamespace(shape_ids=shape_ids, fill_color=fill_color,
                                     stroke_color=stroke_color, even_odd=use_even_odd_rule)

    def serialize_scene(width, height, shapes, groups):
        recorded.update(width=width, height=height, shapes=shapes, groups=groups)
        return ()

    def apply(width, height, samples_x, samples_y, seed, background, *arguments):
        return torch.zeros(height, width, 4)

    fake = types.SimpleNamespace(
        set_use_gpu=lambda flag: None, Path=path, ShapeGroup=group,
        RenderFunction=types.SimpleNamespace(serialize_scene=serialize_scene, apply=apply),
    )
    monkeypatch.setitem(sys.modules, "pydiffvg", fake)
    image = render(fills_and_caps(), scale=2.0, backend="diffvg")

    assert image.shape == (1, 4, 60, 72)
    torch.testing.assert_close(image[0, :, 0, 0], torch.ones(4))  # white under transparency
    assert (recorded["width"], recorded["height"]) == (72, 60)
    shapes, groups = recorded["shapes"], recorded["groups"]
    assert [s.points.shape[0] for s in shapes] == [4, 6, 6]  # open 3k+1, closed 3k points
    assert [s.is_closed for s in shapes] == [False, True, True]
    torch.testing.assert_close(shapes[0].stroke_width, torch.tensor(9.0))  # half of 9 x scale 2
    torch.testing.assert_close(shapes[0].points[1], torch.tensor([24.0, 6.0]))
    assert [g.shape_ids.tolist() for g in groups] == [[0], [1, 2]]
    assert [g.even_odd for g in groups] == [False, True]


@pytest.mark.parametrize("make_scene", [lambda: random_strokes(width=12.0), fills_and_caps])
def test_compiled_render_gives_the_pixels_and_gradients_of_eager_render(make_scene) -> None:
    scene = make_scene()
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
    # Fused kernels sum gradients in another order: allow float32 rounding of the largest.
    scale = max(1.0, eager_grad.abs().max().item())
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-4, atol=1e-4 * scale)
