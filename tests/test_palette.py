"""Palettes (clipdraw.palette): parsing, k-means, the differentiable choice of colours, the SVG."""

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import torch
from helpers import tiny_settings
from PIL import Image

from clipdraw.drawing import draw
from clipdraw.options import OPTION_BY_KEY, OptionError
from clipdraw.palette import (
    initial_logits,
    kmeans_palette,
    palette_colours,
    palette_from_settings,
    parse_palette,
    to_hex,
)
from clipdraw.presets import PRESETS
from clipdraw.settings import DrawSettings, SettingsError
from clipdraw.svg.export import LAYER_ID

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PALETTE = ("#000000", "#e63946", "#457b9d")


def _svg_colours(text: str) -> tuple[set[str], list[ElementTree.Element]]:
    """The stroke and fill colours (as #rrggbb) of the drawing's paths, and the paths."""
    root = ElementTree.fromstring(text)
    layer = next(e for e in root.iter() if e.get("id") == LAYER_ID)
    paths = [e for e in layer.iter() if e.tag.endswith("path")]
    colours = set()
    for path in paths:
        for name in ("stroke", "fill"):
            value = path.get(name, "none")
            if value != "none":
                r, g, b = (int(v) for v in value[4:-1].split(","))
                colours.add(f"#{r:02x}{g:02x}{b:02x}")
    return colours, paths


def test_a_palette_option_reads_hex_and_names_and_refuses_alpha():
    assert OPTION_BY_KEY["palette"].parse("#000, #E63946|red") == {
        "palette": ("#000000", "#e63946", "#ff0000")}
    with pytest.raises(OptionError, match="palette: expected opaque"):
        OPTION_BY_KEY["palette"].parse("#00000080")
    with pytest.raises(OptionError, match="palette: unknown colour"):
        OPTION_BY_KEY["palette"].parse("#000,notacolour")


def test_palette_and_palette_image_together_are_refused(tmp_path):
    image = tmp_path / "p.png"
    Image.new("RGB", (4, 4), "red").save(image)
    with pytest.raises(SettingsError, match="palette: give --palette or --palette-image"):
        DrawSettings(prompts=("x",), palette=PALETTE, palette_image=str(image)).validate()
    with pytest.raises(SettingsError, match="palette_image: file"):
        DrawSettings(prompts=("x",), palette_image=str(tmp_path / "missing.png")).validate()


def test_palette_svg_holds_only_the_palette_colours(tiny_clip_config, tiny_clip):
    settings = tiny_settings(tiny_clip_config, palette=PALETTE, paths=16, iterations=4)
    drawing = draw(settings=settings, clip_models=[tiny_clip])
    colours, paths = _svg_colours(drawing._svg_text())
    assert len(paths) == 16
    assert colours <= set(PALETTE) and len(colours) >= 2
    assert drawing.metrics["palette"] == ",".join(PALETTE)
    # alpha stays optimised: the strokes keep their own opacities
    assert len({p.get("stroke-opacity") for p in paths}) > 1


def test_a_palette_drawing_renders_its_chosen_colours_on_every_snapshot(tiny_clip_config,
                                                                       tiny_clip):
    seen = []
    settings = tiny_settings(tiny_clip_config, palette=PALETTE, iterations=3)
    draw(settings=settings, clip_models=[tiny_clip],
         callbacks=[lambda info: seen.append(info.scene.stroke_color[0, :, :3])])
    palette = parse_palette(PALETTE).float()
    for rgb in seen:
        assert (torch.cdist(rgb, palette).amin(1) == 0).all()


def test_the_palette_choice_moves_colours_toward_the_target(tmp_path):
    target = tmp_path / "red.png"
    Image.new("RGB", (24, 24), (230, 57, 70)).save(target)
    settings = DrawSettings(target=str(target), palette=PALETTE, width=24, height=24, paths=24,
                            iterations=60, max_width=24, stroke_width=8, color_lr=0.1, seed=1)
    start = draw(settings=settings.replace(iterations=1))
    end = draw(settings=settings)

    def red_share(drawing):
        return float((drawing.scene.stroke_color[0, :, 1] * 255).round().eq(57).float().mean())

    assert red_share(end) > red_share(start) + 0.2
    assert end.metrics["psnr"] > start.metrics["psnr"]


def test_the_soft_palette_mixture_anneals_to_the_chosen_colour_with_its_gradient():
    palette = parse_palette(PALETTE)
    logits = torch.tensor([[0.2, 0.5, 0.1]], dtype=torch.float64, requires_grad=True)
    soft = palette_colours(logits, palette, 1.0, hard=False)
    assert torch.cdist(soft, palette).amin() > 0.05  # a mixture, not a palette colour
    cold = palette_colours(logits, palette, 0.01, hard=False)
    assert torch.allclose(cold, palette[1:2], atol=1e-6)
    hard = palette_colours(logits, palette, 1.0, hard=True)
    assert torch.equal(hard.detach(), palette[1:2])
    hard.sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_initial_logits_prefer_the_nearest_palette_colour():
    palette = parse_palette(PALETTE)
    colours = torch.tensor([[0.9, 0.2, 0.3, 0.5], [0.0, 0.1, 0.0, 1.0]], dtype=torch.float64)
    assert initial_logits(colours, palette).argmax(1).tolist() == [1, 0]


def test_kmeans_recovers_the_colours_of_a_three_colour_image():
    image = torch.zeros(3, 10, 10)
    image[:, :5] = torch.tensor([230, 57, 70])[:, None, None] / 255  # 50 pixels
    image[:, 5:8] = torch.tensor([69, 123, 157])[:, None, None] / 255  # 30 pixels
    palette = kmeans_palette(image, 3, torch.Generator().manual_seed(0))
    assert to_hex(palette) == ("#e63946", "#457b9d", "#000000")  # most frequent first
    assert to_hex(kmeans_palette(image, 8, torch.Generator())) == to_hex(palette)


def test_kmeans_colours_are_the_means_of_the_image_pixels_nearest_them():
    with Image.open(ASSETS / "astronaut_48.png") as handle:
        image = torch.from_numpy(np.asarray(handle.convert("RGB"), dtype=np.float32) / 255)
    pixels = image.reshape(-1, 3).double()
    palette = kmeans_palette(image.permute(2, 0, 1), 6, torch.Generator().manual_seed(3))
    assert palette.shape == (6, 3)
    label = torch.cdist(pixels, palette).argmin(1)
    for k in range(6):  # Lloyd's fixed point, up to the 8-bit rounding of the palette
        mean = pixels[label == k].mean(0)
        assert (mean - palette[k]).abs().max() <= 1.5 / 255
    again = kmeans_palette(image.permute(2, 0, 1), 6, torch.Generator().manual_seed(3))
    assert torch.equal(palette, again)


def test_a_palette_image_gives_a_seeded_palette_and_keeps_the_seeds_strokes(tmp_path,
                                                                          tiny_clip_config):
    settings = tiny_settings(tiny_clip_config, palette_image=str(ASSETS / "astronaut_224.png"),
                             palette_size=4, seed=5)
    first = palette_from_settings(settings)
    assert first.shape == (4, 3)
    assert torch.equal(first, palette_from_settings(settings.replace(paths=3)))


def test_opaque_strokes_stay_at_alpha_one(tiny_clip_config, tiny_clip):
    drawing = draw(settings=tiny_settings(tiny_clip_config, opaque=True),
                   clip_models=[tiny_clip])
    assert (drawing.scene.stroke_color[0, :, 3] == 1).all()


def test_the_monochrome_preset_draws_black_opaque_strokes_of_one_width(tiny_clip_config,
                                                                        tiny_clip):
    values = PRESETS["monochrome"].values
    drawing = draw(settings=tiny_settings(tiny_clip_config, **values), clip_models=[tiny_clip])
    colours, paths = _svg_colours(drawing._svg_text())
    assert colours == {"#000000"}
    assert {p.get("stroke-width") for p in paths} == {"1.5"}
    assert all(p.get("stroke-opacity") is None for p in paths)
