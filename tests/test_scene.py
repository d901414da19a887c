"""The Scene contract: construction by broadcasting, validation that names the field, batching."""

import pytest
import torch

from clipdraw import FillRule, LineCap, Scene, render


def _points(paths: int = 2, segments: int = 1) -> torch.Tensor:
    steps = torch.arange(3 * segments + 1, dtype=torch.float32)
    return torch.stack([steps * 2 + 1, steps + 2], -1).expand(paths, -1, -1).clone()


def test_create_broadcasts_per_path_values_and_adds_the_batch_dimension():
    scene = Scene.create(_points(3), torch.tensor([1, 1, 1]), 16, 8, stroke_width=2.5,
                         stroke_color=torch.tensor([1.0, 0, 0, 1]), linecap=LineCap.BUTT)
    assert scene.points.shape == (1, 3, 4, 2)
    assert scene.stroke_width.shape == (1, 3) and (scene.stroke_width == 2.5).all()
    assert scene.stroke_color.shape == (1, 3, 4)
    assert scene.stroked.all() and not scene.filled.any()
    assert (scene.linecap == LineCap.BUTT).all()
    assert scene.compound.tolist() == [[0, 1, 2]]
    assert scene.background.tolist() == [[1.0, 1.0, 1.0, 1.0]]
    scene.validate()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s.replace(points=s.points * float("nan")), "points"),
        (lambda s: s.replace(points=s.points[..., :1]), "points"),
        (lambda s: s.replace(stroke_width=-s.stroke_width), "stroke_width"),
        (lambda s: s.replace(stroke_color=s.stroke_color + 1), "stroke_color"),
        (lambda s: s.replace(fill_color=torch.full_like(s.fill_color, -0.5)), "fill_color"),
        (lambda s: s.replace(width=0), "canvas size"),
        (lambda s: s.replace(num_segments=s.num_segments + 5), "num_segments"),
        (lambda s: s.replace(fill_rule=s.fill_rule + 2), "fill_rule"),
        (lambda s: s.replace(linecap=s.linecap + 3), "linecap"),
        (lambda s: s.replace(compound=s.compound.flip(1)), "compound"),
        (lambda s: s.replace(background=s.background[:, :3]), "background"),
    ],
)
def test_validate_names_the_bad_field(change, field):
    scene = Scene.create(_points(), torch.tensor([1, 1]), 16, 8,
                         stroke_color=torch.tensor([0.5, 0.5, 0.5, 1.0]))
    with pytest.raises(ValueError, match=field):
        change(scene).validate()


def test_closed_paths_may_use_exactly_three_points_per_segment():
    triangle = torch.tensor([[[2.0, 2], [2, 2], [12, 2], [12, 2], [12, 2], [7, 10], [7, 10],
                              [7, 10], [2, 2]]])
    scene = Scene.create(triangle, torch.tensor([3]), 16, 12, closed=True,
                         fill_color=torch.tensor([0.0, 0, 0, 1]))
    image = render(scene.validate())
    assert image[0, 0, 4, 7] < 0.01  # inside the triangle, painted black


def test_concat_pads_paths_and_points_and_keeps_each_canvas():
    small = Scene.create(_points(1, 1), torch.tensor([1]), 16, 8,
                         stroke_color=torch.tensor([1.0, 0, 0, 1]))
    large = Scene.create(_points(3, 2), torch.tensor([2, 1, 2]), 16, 8,
                         fill_color=torch.tensor([0.0, 0, 1, 1]), fill_rule=FillRule.EVENODD)
    both = Scene.concat([small, large]).validate()
    assert both.points.shape == (2, 3, 7, 2)
    assert both.num_segments.tolist() == [[1, 0, 0], [2, 1, 2]]
    assert both.compound.tolist() == [[0, 1, 2], [0, 1, 2]]
    torch.testing.assert_close(render(both[0]), render(small))
    torch.testing.assert_close(render(both[1]), render(large))


def test_concat_refuses_canvases_of_different_sizes():
    a = Scene.create(_points(), torch.tensor([1, 1]), 16, 8)
    with pytest.raises(ValueError, match="width and height"):
        Scene.concat([a, a.replace(width=17)])


def test_to_changes_floating_fields_only():
    scene = Scene.create(_points(), torch.tensor([1, 1]), 16, 8,
                         stroke_color=torch.tensor([0.5, 0.5, 0.5, 1.0]))
    double = scene.to(torch.float64)
    assert double.points.dtype == torch.float64 and double.stroke_color.dtype == torch.float64
    assert double.num_segments.dtype == torch.long and double.stroked.dtype == torch.bool
    assert double.points.device == scene.points.device


def test_take_paths_undoes_the_padding_of_concat():
    small = Scene.create(_points(1, 1), torch.tensor([1]), 16, 8,
                         stroke_color=torch.tensor([1.0, 0, 0, 1]))
    large = Scene.create(_points(3, 2), torch.tensor([2, 1, 2]), 16, 8,
                         stroke_color=torch.tensor([0.0, 0, 1, 1]))
    first = Scene.concat([small, large])[0].take_paths(1)
    assert first.num_paths == 1 and first.background.shape == (1, 4)
    torch.testing.assert_close(first.points[..., :4, :], small.points)
    torch.testing.assert_close(render(first), render(small))
