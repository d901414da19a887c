"""RenderSettings: work-splitting settings leave the output alone; accuracy settings reach it."""

import dataclasses

import pytest
import torch
from helpers import fills_and_caps, random_strokes

from clipdraw import render
from clipdraw.render import RenderPlan, RenderSettings

# Settings documented as leaving the output unchanged, at values far from their defaults.
WORK_ONLY = {"pairs_per_chunk": 64, "entries_per_group": 600, "window_steps_per_octave": 2}
PLAN_ONLY = {"headroom": 1.0, "slack": 0}
# Settings documented as changing the output, at values that change it in the scenes below.
ACCURACY = {"subsamples": 2, "small_radius": 0.0, "stroke_flatness": 0.05, "fill_flatness": 0.5,
            "min_pieces": 16, "max_pieces": 2}


@pytest.fixture
def one_thread():
    """Sums in one thread add in one order, so equal work gives equal bits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _rendered(scene, settings=None, plan=None):
    points = scene.points.clone().requires_grad_(True)
    image = render(scene.replace(points=points), settings=settings, plan=plan)
    (image * torch.linspace(0, 1, image.numel()).view_as(image)).sum().backward()
    return image.detach(), points.grad


def _scenes():
    return [random_strokes(width=2.0), random_strokes(width=12.0), fills_and_caps()]


def test_every_setting_is_documented_as_changing_the_output_or_not():
    fields = {field.name for field in dataclasses.fields(RenderSettings)}
    assert fields == set(WORK_ONLY) | set(PLAN_ONLY) | set(ACCURACY)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("name", "value"), sorted(WORK_ONLY.items()))
def test_work_splitting_settings_leave_the_pixels_bit_for_bit(name: str, value) -> None:
    for scene in _scenes():
        image, grad = _rendered(scene)
        split_image, split_grad = _rendered(scene, RenderSettings(**{name: value}))
        assert torch.equal(split_image, image)
        if name == "entries_per_group":  # groups' gradients add up in another order
            torch.testing.assert_close(split_grad, grad, rtol=1e-6, atol=1e-6)
        else:
            assert torch.equal(split_grad, grad)


@pytest.mark.usefixtures("one_thread")
def test_plan_headroom_leaves_pixels_and_gradients_bit_for_bit() -> None:
    for scene in _scenes():
        tight, roomy = RenderSettings(**PLAN_ONLY), RenderSettings(headroom=3.0, slack=100)
        results = []
        for settings in (tight, roomy):
            plan = RenderPlan()
            render(scene, settings=settings, plan=plan)
            results.append(_rendered(scene, settings, plan))
            assert plan.fits()
        (image, grad), (roomy_image, roomy_grad) = results
        assert torch.equal(image, roomy_image) and torch.equal(grad, roomy_grad)


@pytest.mark.parametrize(("name", "value"), sorted(ACCURACY.items()))
def test_accuracy_settings_reach_the_renderer(name: str, value) -> None:
    thin, scene = random_strokes(width=2.0), fills_and_caps()
    scene = scene.replace(points=scene.points * 1.1 + 0.3)  # curves and corners off the grid
    changed = RenderSettings(**{name: value})
    differs = [not torch.equal(render(s, settings=changed), render(s)) for s in (thin, scene)]
    assert any(differs), f"{name}={value} changes nothing"


@pytest.mark.parametrize(("change", "message"), [
    ({"subsamples": 0}, "subsamples must be positive"),
    ({"headroom": 0.5}, "headroom must be at least 1"),
    ({"window_steps_per_octave": 6}, "window_steps_per_octave must be a power of two"),
    ({"min_pieces": 4, "max_pieces": 3}, "max_pieces must be at least min_pieces"),
    ({"slack": -1}, "slack must be non-negative"),
])
def test_bad_settings_are_refused_naming_the_setting(change, message) -> None:
    with pytest.raises(ValueError, match=message):
        RenderSettings(**change)


def test_a_plan_grows_each_measured_length_by_the_headroom_and_slack() -> None:
    scene = random_strokes()
    capacities = []
    for settings in (RenderSettings(headroom=1.0, slack=0), RenderSettings(headroom=2.0, slack=5)):
        plan = RenderPlan()
        render(scene, settings=settings, plan=plan)
        capacities.append({key: value for key, value in plan.capacities.items()
                           if isinstance(value, int) and key[0] in ("pieces", "entries")})
    exact, grown = capacities
    assert exact and exact.keys() == grown.keys()
    assert all(grown[key] == 2 * exact[key] + 5 for key in exact)
