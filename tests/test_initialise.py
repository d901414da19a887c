"""Random starting scenes: CLIPDraw's strokes, closed blobs, seeds, appending imported paths."""

import torch

from clipdraw.initialise import append_paths, random_scene
from clipdraw.settings import DrawSettings


def _scene(seed=0, **options):
    settings = DrawSettings(prompts=("a",), **options)
    return random_scene(settings, torch.Generator().manual_seed(seed))


def test_strokes_follow_clipdraws_initialisation():
    scene = _scene(width=200, height=100).validate()
    assert scene.num_paths == 256 and scene.points.shape[2] == 10
    segments = scene.num_segments[0]
    assert segments.min() >= 1 and segments.max() <= 3
    assert {1, 2, 3} == set(segments.tolist())
    assert not scene.closed.any() and scene.stroked.all() and not scene.filled.any()
    assert torch.all(scene.stroke_width == 2.0)
    assert scene.stroke_color.min() >= 0 and scene.stroke_color.max() <= 1
    size = torch.tensor([200.0, 100.0])
    for n in range(scene.num_paths):
        used = scene.points[0, n, : 3 * int(segments[n]) + 1]
        steps = (used[1:] - used[:-1]) / size
        # every control point steps by 0.1 * canvas * (rand - 0.5): at most 5% of the canvas
        assert steps.abs().max() <= 0.05 + 1e-6
        assert ((used[0] / size >= 0) & (used[0] / size <= 1)).all()
        assert torch.all(scene.points[0, n, 3 * int(segments[n]) + 1 :] == 0)


def test_the_same_seed_gives_the_same_scene_and_another_seed_does_not():
    a, b, c = _scene(3), _scene(3), _scene(4)
    assert torch.equal(a.points, b.points) and torch.equal(a.stroke_color, b.stroke_color)
    assert not torch.equal(a.points, c.points)


def test_the_scene_is_built_on_the_requested_device_and_dtype():
    settings = DrawSettings(prompts=("a",), paths=4)
    scene = random_scene(settings, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert scene.points.dtype == torch.float64 and scene.stroke_color.dtype == torch.float64
    single = random_scene(settings, torch.Generator().manual_seed(0))
    assert torch.allclose(scene.points.float(), single.points)


def test_blobs_are_closed_filled_paths_of_three_to_five_segments():
    scene = _scene(shape="blobs", paths=64).validate()
    assert scene.closed.all() and scene.filled.all() and not scene.stroked.any()
    assert scene.num_segments.min() >= 3 and scene.num_segments.max() <= 5
    assert scene.fill_color.min() >= 0 and scene.fill_color.max() <= 1


def test_append_paths_paints_the_second_scene_after_the_first():
    first = _scene(1, paths=3)
    second = _scene(2, paths=2, shape="blobs")
    joined = append_paths(first, second).validate()
    assert joined.num_paths == 5 and joined.points.shape[2] == 16
    assert torch.equal(joined.points[0, :3, :10], first.points[0])
    assert torch.equal(joined.points[0, 3:], second.points[0])
    assert joined.closed[0].tolist() == [False] * 3 + [True] * 2
    assert joined.compound[0].tolist() == [0, 1, 2, 3, 4]
