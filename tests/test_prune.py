"""Pruning (clipdraw.prune): invisible paths found by rendering, dropped at export; restarts."""

import torch
from helpers import random_strokes, tiny_settings
from svg_oracles import render_resvg

from clipdraw.drawing import draw, draw_batch
from clipdraw.prune import invisible_paths, prune, select_paths, visible_change
from clipdraw.render import render
from clipdraw.scene import Scene
from clipdraw.svg import scene_to_svg


def _premultiplied(image):
    return torch.cat([image[:, :3] * image[:, 3:], image[:, 3:]], dim=1)


def _with_invisible_paths() -> tuple[Scene, list[int]]:
    """random_strokes plus, at known indices, a clear stroke, one off the canvas and one under
    an opaque cover, and the cover itself last."""
    base = random_strokes()
    strokes = base.points[0, :4].clone()
    colours = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1], [0.2, 0.2, 0.2, 1]])
    strokes[1] += 500  # off the canvas
    strokes[2] = torch.tensor([20.0, 20]) + (strokes[2] - strokes[2, 0]) * 0.05  # tiny, hidden
    strokes[3] = torch.tensor([[20.0, 20]] * 10)  # a 16-wide dot over it
    extra = Scene.create(strokes, torch.tensor([1, 1, 1, 1]), 48, 40,
                         stroke_width=torch.tensor([3.0, 3, 1, 16]), stroke_color=colours)
    from clipdraw.initialise import append_paths

    count = base.num_paths
    return append_paths(base, extra), [count, count + 1, count + 2]


def test_visible_change_is_the_change_of_rendering_without_each_path():
    scene, _ = _with_invisible_paths()
    whole = _premultiplied(render(scene))
    brute = []
    for n in range(scene.num_paths):
        kept = torch.ones(scene.num_paths, dtype=torch.bool)
        kept[n] = False
        without = select_paths(scene, kept)
        brute.append(float((_premultiplied(render(without)) - whole).abs().amax()))
    assert torch.allclose(visible_change(scene), torch.tensor(brute), atol=2e-5)


def test_clear_offcanvas_and_covered_paths_are_invisible_and_the_rest_are_not():
    scene, planted = _with_invisible_paths()
    invisible = invisible_paths(scene)[0]
    assert set(planted) <= set(invisible.nonzero()[:, 0].tolist())
    assert not invisible[-1]  # the cover


def test_pruned_svg_renders_within_one_level_of_the_unpruned_in_resvg():
    scene, planted = _with_invisible_paths()
    result = prune(scene)
    assert result.removed >= len(planted)
    assert result.scene.num_paths == scene.num_paths - result.removed
    assert result.max_change <= 1 / 255
    whole = render_resvg(scene_to_svg(scene), 48, 40).astype(int)
    pruned = render_resvg(scene_to_svg(result.scene), 48, 40).astype(int)
    assert abs(whole - pruned).max() <= 1


def test_pruning_drops_invisible_paths_one_at_a_time_when_their_changes_add_up():
    # forty strokes of alpha 0.4/255 on one spot: each alone invisible, together 16/255
    points = torch.tensor([[[4.0, 4], [6, 4], [8, 4], [10, 4]]]).expand(40, 4, 2)
    faint = torch.tensor([0.0, 0, 0, 0.4 / 255]).expand(40, 4)
    scene = Scene.create(points.clone(), torch.ones(40, dtype=torch.long), 14, 8,
                         stroke_width=4.0, stroke_color=faint.clone())
    assert invisible_paths(scene).all()
    result = prune(scene)
    assert 0 < result.removed < 40
    assert result.max_change <= 0.9 / 255
    before = _premultiplied(render(scene))
    assert (_premultiplied(render(result.scene)) - before).abs().max() <= 0.9 / 255


def test_prune_option_drops_paths_and_counts_them_in_the_metadata(tiny_clip_config, tiny_clip):
    settings = tiny_settings(tiny_clip_config, paths=24, stroke_width=14, opaque=True,
                             iterations=2)
    whole = draw(settings=settings, clip_models=[tiny_clip])
    pruned = draw(settings=settings.replace(prune=True), clip_models=[tiny_clip])
    assert pruned.metrics["pruned"] > 0
    assert pruned.scene.num_paths + pruned.metrics["pruned"] == 24
    assert "pruned" in pruned.metadata()["metrics"]
    difference = (_premultiplied(pruned.render()[None]) - _premultiplied(whole.render()[None]))
    assert difference.abs().max() <= 1 / 255


def test_reinit_restarts_covered_paths_and_keeps_seeds_reproducible(tiny_clip_config,
                                                                    tiny_clip):
    settings = tiny_settings(tiny_clip_config, paths=24, stroke_width=14, opaque=True,
                             iterations=4, reinit_every=1)
    first, again = (draw(settings=settings, clip_models=[tiny_clip]) for _ in range(2))
    assert first.metrics["reinitialised"] > 0
    assert first._svg_text() == again._svg_text()
    plain = draw(settings=settings.replace(reinit_every=None), clip_models=[tiny_clip])
    assert not torch.equal(plain.scene.points, first.scene.points)
    other = tiny_settings(tiny_clip_config, paths=5, seed=9, iterations=4)
    together = draw_batch([other, settings], clip_models=[tiny_clip])[1]
    assert together.metrics["reinitialised"] == first.metrics["reinitialised"]
    assert torch.allclose(together.scene.points, first.scene.points, atol=1e-3)
