"""SVG export: the document structure editors rely on, compact numbers, metadata, round trip."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest
import torch

from clipdraw.scene import FillRule, LineCap, LineJoin, Scene
from clipdraw.svg import load_svg, read_svg_metadata, save_svg, scene_to_svg

SVG = "{http://www.w3.org/2000/svg}"
INKSCAPE = "{http://www.inkscape.org/namespaces/inkscape}"


def two_path_scene(**overrides) -> Scene:
    """An open red stroke and a closed blue filled triangle on a 100 x 80 canvas."""
    points = torch.tensor([
        [[10.0, 10.0], [20.0, 5.0], [30.0, 15.0], [40.0, 10.0], [0.0, 0.0], [0.0, 0.0],
         [0.0, 0.0]],
        [[50.0, 50.0], [55.0, 45.0], [60.0, 40.0], [70.0, 60.0], [65.0, 62.0], [55.0, 58.0],
         [0.0, 0.0]],
    ])
    options = dict(
        stroke_width=torch.tensor([2.5, 3.0]),
        stroke_color=torch.tensor([[1.0, 0.0, 0.0, 0.5], [0.0, 0.0, 1.0, 1.0]]),
        closed=torch.tensor([False, True]),
        linecap=torch.tensor([LineCap.BUTT, LineCap.SQUARE]),
    )
    options.update(overrides)
    scene = Scene.create(points, torch.tensor([1, 2]), 100, 80, **options)
    return scene


def parse(text: str) -> ElementTree.Element:
    return ElementTree.fromstring(text.encode("utf-8"))


def paths_of(root: ElementTree.Element) -> list[ElementTree.Element]:
    return list(root.iter(f"{SVG}path"))


def test_document_size_viewbox_and_inkscape_layer():
    root = parse(scene_to_svg(two_path_scene()))
    assert root.get("viewBox") == "0 0 100 80"
    assert (root.get("width"), root.get("height")) == ("100", "80")
    layers = [g for g in root.iter(f"{SVG}g") if g.get(f"{INKSCAPE}groupmode") == "layer"]
    assert len(layers) == 1 and layers[0].get(f"{INKSCAPE}label") == "clipdraw"
    assert layers[0].get("id")
    assert len(paths_of(layers[0])) == 2


def test_document_carries_no_svgwrite_clutter():
    text = scene_to_svg(two_path_scene())
    for clutter in ("<defs", "xmlns:ev", "baseProfile", "xlink", ' opacity="'):
        assert clutter not in text


def test_background_rect_written_when_opaque_and_omitted_when_transparent():
    opaque = parse(scene_to_svg(two_path_scene(background=(1.0, 0.5, 0.0, 1.0))))
    rects = list(opaque.iter(f"{SVG}rect"))
    assert len(rects) == 1
    assert rects[0].get("fill") == "rgb(255,128,0)"
    assert (rects[0].get("width"), rects[0].get("height")) == ("100", "80")
    assert rects[0].get("fill-opacity") is None
    clear = parse(scene_to_svg(two_path_scene(background=(1.0, 1.0, 1.0, 0.0))))
    assert not list(clear.iter(f"{SVG}rect"))


def test_stroke_attributes_use_full_width_rgb_and_stroke_opacity():
    stroke, triangle = paths_of(parse(scene_to_svg(two_path_scene())))
    assert stroke.get("fill") == "none"
    assert stroke.get("stroke") == "rgb(255,0,0)"
    assert stroke.get("stroke-opacity") == "0.5"
    assert stroke.get("stroke-width") == "2.5"
    assert stroke.get("stroke-linecap") == "butt"
    assert stroke.get("stroke-linejoin") == "round"
    assert stroke.get("opacity") is None
    assert triangle.get("stroke-opacity") is None  # omitted when 1
    assert triangle.get("stroke-linecap") == "square"


@pytest.mark.parametrize("join, name", [(LineJoin.ROUND, "round"), (LineJoin.MITER, "miter"),
                                        (LineJoin.BEVEL, "bevel")])
def test_every_linejoin_is_written(join, name):
    path = paths_of(parse(scene_to_svg(two_path_scene(linejoin=join))))[0]
    assert path.get("stroke-linejoin") == name


def test_miter_limit_is_written_unless_it_is_svgs_default():
    scene = two_path_scene(linejoin=LineJoin.MITER, miter_limit=torch.tensor([4.0, 7.25]))
    default, longer = paths_of(parse(scene_to_svg(scene)))
    assert default.get("stroke-miterlimit") is None
    assert longer.get("stroke-miterlimit") == "7.25"


@pytest.mark.parametrize("cap, name", [(LineCap.BUTT, "butt"), (LineCap.ROUND, "round"),
                                       (LineCap.SQUARE, "square")])
def test_every_linecap_is_written(cap, name):
    path = paths_of(parse(scene_to_svg(two_path_scene(linecap=cap))))[0]
    assert path.get("stroke-linecap") == name


def test_fill_attributes_with_opacity_and_rule():
    scene = two_path_scene(fill_color=torch.tensor([0.0, 0.5, 1.0, 0.25]),
                           fill_rule=FillRule.EVENODD)
    path = paths_of(parse(scene_to_svg(scene)))[1]
    assert path.get("fill") == "rgb(0,128,255)"
    assert path.get("fill-opacity") == "0.25"
    assert path.get("fill-rule") == "evenodd"


def test_unstroked_path_has_no_stroke_attributes():
    scene = two_path_scene(stroke_color=None, fill_color=torch.tensor([0.0, 0.0, 0.0, 1.0]))
    path = paths_of(parse(scene_to_svg(scene)))[0]
    assert path.get("stroke") is None and path.get("stroke-width") is None
    assert path.get("fill-opacity") is None


def test_closed_path_returns_to_start_and_ends_with_z():
    _, triangle = paths_of(parse(scene_to_svg(two_path_scene())))
    assert triangle.get("d") == "M50,50C55,45 60,40 70,60C65,62 55,58 50,50Z"


def test_coordinates_are_rounded_without_trailing_zeros():
    scene = two_path_scene()
    scene.points[0, 0, 1] = torch.tensor([20.123456, 5.10001])
    scene.points[0, 0, 2] = torch.tensor([-0.0001, 15.5])
    d = paths_of(parse(scene_to_svg(scene)))[0].get("d")
    assert d == "M10,10C20.12,5.1 0,15.5 40,10"
    d3 = paths_of(parse(scene_to_svg(scene, precision=3)))[0].get("d")
    assert d3.startswith("M10,10C20.123,5.1 0,15.5")


def test_compound_shape_is_one_path_element_with_every_subpath():
    scene = two_path_scene(compound=torch.tensor([4, 4]), fill_color=torch.tensor([0, 0, 0, 1.0]))
    paths = paths_of(parse(scene_to_svg(scene)))
    assert len(paths) == 1
    assert paths[0].get("d").count("M") == 2


def test_empty_paths_are_left_out():
    scene = two_path_scene()
    scene.num_segments[0, 0] = 0
    assert len(paths_of(parse(scene_to_svg(scene)))) == 1


def test_index_selects_the_canvas_of_a_batch():
    first = two_path_scene()
    second = two_path_scene(stroke_color=torch.tensor([[0.0, 1.0, 0.0, 1.0]] * 2))
    batch = Scene.concat([first, second])
    assert 'stroke="rgb(0,255,0)"' in scene_to_svg(batch, index=1)
    assert 'stroke="rgb(0,255,0)"' not in scene_to_svg(batch, index=0)
    with pytest.raises(IndexError):
        scene_to_svg(batch, index=2)


def test_exports_tensors_that_require_grad():
    scene = two_path_scene()
    scene = scene.replace(points=scene.points.clone().requires_grad_(True))
    assert "<path" in scene_to_svg(scene)


def test_metadata_round_trips_as_json_with_special_characters(tmp_path):
    metadata = {"prompt": 'a <cat> & "dog" ]]> ünïcode', "seed": 7,
                "settings": {"paths": 256, "lr": 0.1}, "similarity": 0.31, "version": "0.1"}
    path = tmp_path / "drawing.svg"
    save_svg(two_path_scene(), path, metadata=metadata)
    assert read_svg_metadata(path) == metadata
    element = next(parse(path.read_text()).iter(f"{SVG}metadata"))
    assert json.loads(element.text) == metadata


def test_metadata_is_none_when_absent(tmp_path):
    path = tmp_path / "plain.svg"
    save_svg(two_path_scene(), path)
    assert read_svg_metadata(path) is None
    assert "<metadata" not in path.read_text()


def test_save_svg_replaces_the_file_atomically_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.svg"
    path.write_text("old")
    save_svg(two_path_scene(), path)
    assert path.read_text().startswith("<?xml")
    assert [p.name for p in tmp_path.iterdir()] == ["out.svg"]


def test_save_load_save_gives_the_same_scene_and_text(tmp_path):
    scene = two_path_scene(fill_color=torch.tensor([[0.2, 0.4, 0.6, 0.8], [0.1, 0.9, 0.3, 1.0]]),
                           background=(0.9, 0.8, 0.7, 1.0),
                           linejoin=torch.tensor([LineJoin.MITER, LineJoin.BEVEL]),
                           miter_limit=torch.tensor([2.5, 4.0]))
    first = tmp_path / "first.svg"
    save_svg(scene, first)
    loaded = load_svg(first)
    assert (loaded.width, loaded.height) == (scene.width, scene.height)
    for name in ("num_segments", "closed", "stroked", "filled", "fill_rule", "linecap", "compound",
                 "linejoin", "miter_limit"):
        assert torch.equal(getattr(loaded, name), getattr(scene, name)), name
    for name in ("stroke_width", "stroke_color", "fill_color", "background"):
        torch.testing.assert_close(getattr(loaded, name), getattr(scene, name), atol=2.5e-3,
                                   rtol=0, msg=name)
    for n in range(scene.num_paths):
        used = 3 * int(scene.num_segments[0, n]) + (0 if scene.closed[0, n] else 1)
        torch.testing.assert_close(loaded.points[0, n, :used], scene.points[0, n, :used],
                                   atol=5e-3, rtol=0)
    second = tmp_path / "second.svg"
    save_svg(loaded, second)
    assert second.read_text() == first.read_text()
