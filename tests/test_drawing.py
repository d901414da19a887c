"""draw, draw_batch, Drawing: files, seeds, batching, interrupts, imported SVGs, painterly mode."""

from pathlib import Path

import pytest
import torch
from helpers import tiny_settings

from clipdraw.drawing import DrawFailed, Drawing, DrawInterrupted, draw, draw_batch
from clipdraw.io import save_png
from clipdraw.settings import DrawSettings, SettingsError
from clipdraw.svg import load_svg, read_svg_metadata

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _draw(tiny_clip, **options) -> Drawing:
    settings = tiny_settings("tiny", **options)
    return draw_batch([settings], device="cpu", clip_models=[tiny_clip])[0]


def test_draw_returns_a_drawing_that_renders_and_saves(tmp_path, tiny_clip):
    drawing = draw("a red circle", model="tiny", pretrained=None, width=32, height=24, paths=6,
                   iterations=2, num_augs=2, device="cpu", clip_models=[tiny_clip])
    assert drawing.scene.batch_size == 1 and drawing.scene.num_paths == 6
    assert drawing.render().shape == (4, 24, 32)
    assert drawing.render(scale=2).shape == (4, 48, 64)
    written = drawing.save(tmp_path / "d.svg", png_scale=2)
    assert set(written) == {"svg", "png", "json"}
    assert all(p.is_file() for p in written.values())
    meta = read_svg_metadata(written["svg"])
    assert meta["settings"]["prompts"] == ["a red circle"]
    assert meta["settings"]["seed"] == 0 and meta["settings"]["iterations"] == 2
    assert meta["metrics"]["steps"] == 2 and -1 <= meta["metrics"]["similarity"] <= 1
    assert meta["clipdraw_version"]
    loaded = load_svg(written["svg"])
    assert loaded.num_paths == 6 and (loaded.width, loaded.height) == (32, 24)


def test_the_same_seed_gives_the_same_svg_and_another_seed_does_not(tmp_path, tiny_clip):
    texts = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        _draw(tiny_clip, seed=seed).save_svg(tmp_path / f"{name}.svg")
        texts.append((tmp_path / f"{name}.svg").read_text())
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_a_drawing_is_the_same_batched_or_alone(tiny_clip):
    a = tiny_settings("tiny", seed=1)
    b = tiny_settings("tiny", seed=2, paths=5, prompts=("a tree",), negatives=("ugly",),
                      point_lr=0.5)
    alone = [draw_batch([s], device="cpu", clip_models=[tiny_clip])[0] for s in (a, b)]
    together = draw_batch([a, b], device="cpu", clip_models=[tiny_clip])
    for one, other in zip(alone, together):
        assert one.scene.num_paths == other.scene.num_paths
        assert torch.allclose(one.scene.points, other.scene.points, atol=1e-4)
        assert torch.allclose(one.scene.stroke_color, other.scene.stroke_color, atol=1e-5)
        assert one.settings == other.settings


def test_settings_read_back_from_the_svg_reproduce_it(tmp_path, tiny_clip):
    first = _draw(tiny_clip, seed=9, negatives=("a blur",))
    first.save_svg(tmp_path / "first.svg")
    settings = DrawSettings.from_dict(read_svg_metadata(tmp_path / "first.svg")["settings"])
    again = draw_batch([settings], device="cpu", clip_models=[tiny_clip])[0]
    again.save_svg(tmp_path / "again.svg")
    strip = lambda text: text.split("<metadata")[0] + text.split("</metadata>")[1]  # noqa: E731
    assert strip((tmp_path / "first.svg").read_text()) == strip(
        (tmp_path / "again.svg").read_text())


def test_ctrl_c_raises_with_the_latest_drawing(tiny_clip, tmp_path):
    def stop(info):
        if info.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(DrawInterrupted) as caught:
        draw_batch([tiny_settings("tiny", iterations=10)], device="cpu", clip_models=[tiny_clip],
                   callbacks=[stop])
    assert isinstance(caught.value, KeyboardInterrupt)
    drawing = caught.value.drawings[0]
    assert drawing.metrics["steps"] == 2 and drawing.metrics["interrupted"] == "KeyboardInterrupt"
    drawing.save_svg(tmp_path / "partial.svg")
    assert load_svg(tmp_path / "partial.svg").num_paths == 8


def test_an_error_mid_run_keeps_the_latest_drawing(tiny_clip):
    def fail(info):
        raise RuntimeError("disk on fire")

    with pytest.raises(DrawFailed, match="disk on fire") as caught:
        draw_batch([tiny_settings("tiny")], device="cpu", clip_models=[tiny_clip], callbacks=[fail])
    assert caught.value.drawings[0].metrics["steps"] == 1
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_an_imported_svg_becomes_parameters_and_freezing_keeps_it(tmp_path, tiny_clip):
    start = _draw(tiny_clip, paths=4, iterations=1)
    start.save_svg(tmp_path / "start.svg")
    imported = load_svg(tmp_path / "start.svg")
    moved = _draw(tiny_clip, init_svg=str(tmp_path / "start.svg"), paths=None, seed=3)
    assert moved.scene.num_paths == 4
    assert not torch.allclose(moved.scene.points, imported.points)
    frozen = _draw(tiny_clip, init_svg=str(tmp_path / "start.svg"), paths=3, freeze_init=True)
    assert frozen.scene.num_paths == 7
    assert torch.equal(frozen.scene.points[0, :4, :10], imported.points[0, :, :10])
    assert torch.equal(frozen.scene.stroke_color[0, :4], imported.stroke_color[0])


def test_an_image_prompt_and_blobs_draw(tmp_path, tiny_clip):
    drawing = _draw(tiny_clip, prompts=(), image_prompt=str(ASSETS / "astronaut_48.png"),
                    shape="blobs")
    assert drawing.scene.closed.all() and drawing.scene.filled.all()
    assert -1 <= drawing.similarity <= 1


def test_an_ensemble_of_two_models_draws(tiny_clip):
    drawing = draw_batch([tiny_settings("tiny", models=("a", "b"))], device="cpu",
                         clip_models=[tiny_clip, tiny_clip])[0]
    assert drawing.metrics["steps"] == 3


def test_pixel_target_mode_reconstructs_the_image(tmp_path):
    """The pipeline really optimises: >= 6 dB PSNR gain over the initial canvas."""
    target = ASSETS / "astronaut_48.png"
    options = dict(target=str(target), width=48, height=48, paths=64, seed=0)
    initial = draw(iterations=1, point_lr=0, width_lr=0, color_lr=0, device="cpu", **options)
    final = draw(iterations=40, device="cpu", **options)
    gain = final.metrics["psnr"] - initial.metrics["psnr"]
    print(f"PSNR {initial.metrics['psnr']:.2f} -> {final.metrics['psnr']:.2f} dB (+{gain:.2f})")
    assert gain >= 6.0
    assert "similarity" not in final.metrics  # no CLIP model was needed
    save_png(final.render(), tmp_path / "painterly.png")


def test_bad_settings_fail_before_any_model_is_loaded():
    with pytest.raises(SettingsError, match="width: must be at least 1"):
        draw("a cat", width=0)  # would need to download ViT-B-32 otherwise
    with pytest.raises(SettingsError, match="does not exist"):
        draw(image_prompt="/no/such/image.png")
    with pytest.raises(ValueError, match="cannot read image"):
        draw(image_prompt=__file__)


def test_draw_batch_takes_drawings_with_and_without_clip_in_any_order(tiny_clip_config):
    target = tiny_settings(str(tiny_clip_config), prompts=(), target=str(ASSETS /
                           "astronaut_48.png"), iterations=1)
    prompt = tiny_settings(str(tiny_clip_config), iterations=1)
    for order in ([target, prompt], [prompt, target]):
        drawings = draw_batch(order, device="cpu")
        assert [d.settings.uses_clip for d in drawings] == [s.uses_clip for s in order]


def test_draw_with_an_init_svg_keeps_the_svgs_canvas(tmp_path, tiny_clip):
    (tmp_path / "wide.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30">'
        '<path d="M5 5 L55 25" stroke="black" stroke-width="3"/></svg>')
    drawing = draw("a line", init_svg=str(tmp_path / "wide.svg"), iterations=1, num_augs=2,
                   device="cpu", clip_models=[tiny_clip])
    assert (drawing.scene.width, drawing.scene.height) == (60, 30)
    assert float(drawing.scene.points[0, 0, 0, 0]) == pytest.approx(5, abs=0.6)


def test_a_drawing_can_be_optimised_in_float64(tiny_clip):
    drawing = draw_batch([tiny_settings("tiny", iterations=2)], device="cpu",
                         dtype=torch.float64, clip_models=[tiny_clip])[0]
    assert drawing.scene.points.dtype == torch.float64
    assert drawing.render().dtype == torch.float64


def test_draw_takes_model_specs_as_a_setting_beside_loaded_models(tiny_clip_config):
    # `models` is the DrawSettings field (specs to load), `clip_models` the loaded ones.
    drawing = draw("a red circle", models=(str(tiny_clip_config),), pretrained=None, width=32,
                   height=32, paths=4, iterations=2, num_augs=2, device="cpu")
    assert drawing.settings.models == (str(tiny_clip_config),)
    assert drawing.metrics["steps"] == 2


def test_an_init_svg_drawn_on_another_canvas_is_rescaled_points_and_widths(tmp_path, tiny_clip):
    (tmp_path / "wide.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30">'
        '<path d="M5 5 L55 25" stroke="black" stroke-width="3" stroke-linejoin="round"/></svg>')
    drawing = draw("a line", init_svg=str(tmp_path / "wide.svg"), width=120, height=60,
                   freeze_init=True, paths=1, iterations=1, num_augs=2, device="cpu",
                   clip_models=[tiny_clip])
    start = drawing.scene.points[0, 0, 0]
    assert start.tolist() == pytest.approx([10.0, 10.0], abs=1e-4)
    assert float(drawing.scene.stroke_width[0, 0]) == pytest.approx(6.0, abs=1e-4)
