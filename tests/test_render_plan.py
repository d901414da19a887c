"""Planned renders: the pixels and gradients of measured ones, without reading the device.

On a CPU nothing waits, so "does not synchronise" is checked at the dispatcher: a planned
render must not run any operator whose output size or value the host has to read back (that is
what blocks on a GPU), nor copy host data to the device.
"""

import pytest
import torch
from helpers import fills_and_caps, random_strokes
from torch.utils._python_dispatch import TorchDispatchMode

from clipdraw import Scene, render
from clipdraw.render import RenderPlan, RenderSettings
from clipdraw.render import plan as plan_module

aten = torch.ops.aten
# Operators that read a device value back to the host, or copy host data to the device.
_HOST_READS = {aten._local_scalar_dense, aten.nonzero, aten._unique2, aten.unique_consecutive,
               aten.unique_dim, aten.masked_select, aten.lift_fresh, aten.lift_fresh_copy}


class _HostReads(TorchDispatchMode):
    """Records the operators that would make a GPU render wait for the device."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        repeats = func is aten.repeat_interleave.Tensor and kwargs.get("output_size") is None
        masked = packet in (aten.index, aten.index_put, aten.index_put_) and any(
            i is not None and i.dtype == torch.bool for i in args[1])
        if packet in _HOST_READS or repeats or masked:
            self.seen.append(str(func))
        return func(*args, **kwargs)


def _two_canvases() -> Scene:
    return Scene.concat([random_strokes(), random_strokes(width=2.0)])


def _rendered(scene: Scene, plan: RenderPlan | None,
              settings: RenderSettings | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    points = scene.points.clone().requires_grad_(True)
    image = render(scene.replace(points=points), plan=plan, settings=settings)
    image.square().sum().backward()
    return image.detach(), points.grad


@pytest.mark.parametrize("make_scene", [random_strokes, fills_and_caps, _two_canvases])
def test_planned_render_gives_the_pixels_and_gradients_of_a_measured_one(make_scene) -> None:
    scene = make_scene()
    expected, expected_grad = _rendered(scene, None)
    plan = RenderPlan()
    measuring = _rendered(scene, plan)
    assert plan.measured and plan.fits()
    with _HostReads() as reads:
        image, grad = _rendered(scene, plan)
    assert reads.seen == []
    assert plan.fits()
    for got in (measuring[0], image):
        assert (got - expected).abs().max() <= 1e-6
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-5)


def test_the_detector_sees_what_a_measured_render_reads() -> None:
    with _HostReads() as reads:
        _rendered(fills_and_caps(), None)
    assert "aten.nonzero.default" in reads.seen and "aten._local_scalar_dense.default" in reads.seen


def test_planned_render_over_several_layer_groups() -> None:
    settings = RenderSettings(entries_per_group=600)
    scene = random_strokes()
    expected, _ = _rendered(scene, None, settings)
    plan = RenderPlan()
    _rendered(scene, plan, settings)
    assert len(plan.capacities["groups"]) > 3
    with _HostReads() as reads:
        image, _ = _rendered(scene.replace(points=scene.points + 0.25), plan, settings)
    assert reads.seen == [] and plan.fits()
    shifted, _ = _rendered(scene.replace(points=scene.points + 0.25), None, settings)
    assert (image - shifted).abs().max() <= 1e-6
    assert (image - expected).abs().max() > 0.1


def test_a_scene_that_outgrows_its_plan_is_reported_and_measured_again() -> None:
    thin, wide = random_strokes(width=2.0), random_strokes(width=8.0)
    plan = RenderPlan()
    _rendered(thin, plan)
    assert plan.fits()
    _rendered(wide, plan)
    assert not plan.fits()
    assert not plan.measured
    image, _ = _rendered(wide, plan)
    assert plan.fits() and plan.measured
    assert (image - _rendered(wide, None)[0]).abs().max() <= 1e-6


def test_headroom_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="headroom"):
        RenderSettings(headroom=0.5)


def test_a_planned_render_of_bad_values_is_safe_reported_and_then_named() -> None:
    scene = fills_and_caps()
    plan = RenderPlan()
    render(scene, plan=plan)
    assert plan.fits()
    points = scene.points.clone()
    points[0, 1, 2] = float("nan")
    broken = scene.replace(points=points, stroke_width=scene.stroke_width * -1)
    render(broken, plan=plan)
    assert not plan.fits()
    with pytest.raises(ValueError, match="points contains NaN"):
        render(broken, plan=plan)


def test_planned_compiled_render_gives_the_pixels_of_an_eager_measured_one() -> None:
    scene = fills_and_caps()
    plan = RenderPlan()
    render(scene, plan=plan, compile=True)
    image = render(scene, plan=plan, compile=True)
    assert plan.fits()
    assert (image - render(scene)).abs().max() <= 1e-5


def test_a_plan_measures_afresh_for_a_scene_of_another_structure() -> None:
    plan = RenderPlan()
    render(random_strokes(), plan=plan)
    other = fills_and_caps()
    image = render(other, plan=plan)
    assert plan.fits() and (image - render(other)).abs().max() <= 1e-6


@pytest.mark.parametrize("size", [0, 3, 40, 90])
def test_fixed_size_helpers_match_the_torch_operators_they_replace(size) -> None:
    generator = torch.Generator().manual_seed(size)
    mask = torch.rand(64, generator=generator) > 0.5
    expected = torch.nonzero_static(mask, size=size, fill_value=64).squeeze(1)
    assert torch.equal(plan_module._true_indices(mask, size), expected)
    counts = torch.randint(0, 4, (size,), generator=generator)
    owner, within = plan_module.spread(counts, int(counts.sum()) + 5)
    repeated = torch.repeat_interleave(torch.arange(size), counts)
    assert torch.equal(owner[: repeated.numel()], repeated)
    assert (owner[repeated.numel():] == size).all()
    starts = torch.cumsum(counts, 0) - counts
    assert torch.equal(within[: repeated.numel()],
                       torch.arange(repeated.numel()) - starts[repeated])


def test_fits_speaks_of_the_latest_render_only() -> None:
    plan = RenderPlan()
    render(random_strokes(width=8.0), plan=plan)
    render(random_strokes(width=8.0), plan=plan)  # planned; its needs are never checked
    render(fills_and_caps(), plan=plan)  # another structure: measured
    assert plan.fits()
