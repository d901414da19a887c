"""SVG import: geometry, transforms, paints and units against the SVG rules and against cairo's and
resvg's renderings of the same files; skipped features and malformed files."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import cairosvg
import numpy as np
import pytest
import resvg_py
import torch
from PIL import Image

from clipdraw.scene import FillRule, LineCap
from clipdraw.svg import SvgImportError, load_svg, scene_to_svg

DATA = Path(__file__).parent / "data" / "svg"
FIXTURES = ["path_commands.svg", "shapes.svg", "transforms.svg", "colours.svg",
            "inkscape_mm.svg", "structure.svg"]


def write_svg(tmp_path: Path, body: str, attrs: str = 'width="100" height="100"') -> Path:
    """A small SVG document with ``body`` inside the root element."""
    path = tmp_path / "test.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}>{body}</svg>')
    return path


def load_quietly(path: Path):
    """load_svg, failing on any warning (supported input must load silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_svg(path)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA in [0, 1] composited over white, in 0..255."""
    return (rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:]) * 255


def png_rgb(png: bytes) -> np.ndarray:
    return over_white(np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), np.float64) / 255)


def cairo_rgb(svg: str, width: int, height: int) -> np.ndarray:
    return png_rgb(cairosvg.svg2png(bytestring=svg.encode(), output_width=width,
                                    output_height=height))


def resvg_rgb(svg: str, width: int, height: int) -> np.ndarray:
    # dpi=96: resvg-py's default dpi of 0 rejects documents sized in mm/in/pt
    return png_rgb(bytes(resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height,
                                               dpi=96)))


def ours_rgb(scene) -> np.ndarray:
    from clipdraw.render import render

    image = render(scene)[0].detach().double().clamp(0, 1).permute(1, 2, 0).numpy()
    return over_white(image)


def errors(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and 99th percentile of the absolute difference, in 1/255 units."""
    assert a.shape == b.shape
    difference = np.abs(a - b)
    return float(difference.mean()), float(np.percentile(difference, 99))


# ---- against other renderers ----------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_import_then_export_draws_like_the_original_in_cairo_and_resvg(name):
    """Renderer-independent: our reading of the file, written back, looks like the file."""
    original = (DATA / name).read_text()
    scene = load_quietly(DATA / name)
    exported = scene_to_svg(scene, precision=3)
    size = (scene.width, scene.height)
    mean, p99 = errors(cairo_rgb(original, *size), cairo_rgb(exported, *size))
    assert mean <= 0.5 and p99 <= 10, (mean, p99)
    mean, p99 = errors(resvg_rgb(original, *size), resvg_rgb(exported, *size))
    assert mean <= 0.5 and p99 <= 10, (mean, p99)


@pytest.mark.parametrize("name", FIXTURES)
def test_our_render_of_an_imported_file_matches_cairo_and_resvg(name):
    original = (DATA / name).read_text()
    scene = load_quietly(DATA / name)
    ours = ours_rgb(scene)
    mean, p99 = errors(ours, cairo_rgb(original, scene.width, scene.height))
    assert mean <= 1.0 and p99 <= 10, ("cairo", mean, p99)
    mean, p99 = errors(ours, resvg_rgb(original, scene.width, scene.height))
    assert mean <= 2.5 and p99 <= 24, ("resvg", mean, p99)


# ---- canvas and units -----------------------------------------------------------------------


def test_inkscape_document_in_mm_maps_its_viewbox_onto_the_pixel_canvas():
    scene = load_quietly(DATA / "inkscape_mm.svg")
    assert (scene.width, scene.height) == (192, 144)  # 50.8 mm x 38.1 mm at 96 px/in
    assert len(set(scene.compound[0].tolist())) == 3  # the ellipse, the path and the rect
    # the ellipse centre (15, 15) user units lies at 15 * 96 / 25.4 px
    ellipse = scene.points[0, 0, : 3 * int(scene.num_segments[0, 0])]
    centre = (ellipse.amax(0) + ellipse.amin(0)) / 2
    torch.testing.assert_close(centre, torch.tensor([56.69, 56.69]), atol=0.01, rtol=0)
    torch.testing.assert_close(scene.stroke_width[0, 0], torch.tensor(0.5 * 96 / 25.4))


@pytest.mark.parametrize("width, pixels", [("120", 120), ("120px", 120), ("2in", 192),
                                           ("5.08cm", 192), ("50.8mm", 192), ("72pt", 96)])
def test_width_units_become_pixels(tmp_path, width, pixels):
    scene = load_quietly(write_svg(tmp_path, '<rect width="1" height="1"/>',
                                   f'width="{width}" height="50"'))
    assert scene.width == pixels


def test_fractional_document_size_is_rounded_and_the_viewbox_still_fills_the_canvas(tmp_path):
    path = write_svg(tmp_path, '<path d="M0 0 L100 50" stroke="black"/>',
                     'width="100.6" height="50.3" viewBox="0 0 100 50"')
    scene = load_quietly(path)
    assert (scene.width, scene.height) == (101, 50)
    torch.testing.assert_close(scene.points[0, 0, 3], torch.tensor([101.0, 50.0]))


def test_viewbox_without_width_and_height_gives_the_canvas_size(tmp_path):
    scene = load_quietly(write_svg(tmp_path, '<rect width="5" height="5"/>',
                                   'viewBox="10 20 64 48"'))
    assert (scene.width, scene.height) == (64, 48)
    assert scene.points[0, 0, 0].tolist() == [-10.0, -20.0]


def test_viewbox_scaling_scales_coordinates_and_stroke_widths(tmp_path):
    path = write_svg(tmp_path, '<path d="M1 1 L9 9" stroke="red" stroke-width="0.5"/>',
                     'width="200" height="200" viewBox="0 0 10 10"')
    scene = load_quietly(path)
    assert scene.points[0, 0, 0].tolist() == [20.0, 20.0]
    assert scene.stroke_width[0, 0].item() == pytest.approx(10.0)


# ---- geometry -------------------------------------------------------------------------------


def test_quadratic_is_elevated_to_a_cubic_exactly(tmp_path):
    scene = load_quietly(write_svg(tmp_path, '<path d="M0 0 Q30 60 60 0" stroke="black"/>'))
    assert scene.num_segments[0, 0] == 1
    expected = torch.tensor([[0.0, 0.0], [20.0, 40.0], [40.0, 40.0], [60.0, 0.0]])
    torch.testing.assert_close(scene.points[0, 0, :4], expected)


def test_line_is_a_straight_cubic_with_thirds_as_controls(tmp_path):
    scene = load_quietly(write_svg(tmp_path, '<line x1="0" y1="0" x2="30" y2="60" stroke="red"/>'))
    expected = torch.tensor([[0.0, 0.0], [10.0, 20.0], [20.0, 40.0], [30.0, 60.0]])
    torch.testing.assert_close(scene.points[0, 0, :4], expected)


@pytest.mark.parametrize("radius", [5.0, 200.0, 20000.0])
def test_arcs_become_cubics_within_a_tenth_of_a_pixel(tmp_path, radius):
    body = f'<circle cx="0" cy="0" r="{radius}" fill="none" stroke="black"/>'
    scene = load_quietly(write_svg(tmp_path, body))
    segments = int(scene.num_segments[0, 0])
    points = scene.points[0, 0, : 3 * segments].double()
    points = torch.cat([points, points[:1]])
    t = torch.linspace(0, 1, 101, dtype=torch.float64)[:, None]
    worst = 0.0
    for s in range(segments):
        p0, p1, p2, p3 = points[3 * s : 3 * s + 4]
        curve = ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2
                 + t**3 * p3)
        worst = max(worst, float((curve.norm(dim=1) - radius).abs().max()))
    assert worst <= 0.1


def test_closed_subpath_drops_the_repeated_start_point(tmp_path):
    scene = load_quietly(write_svg(tmp_path, '<path d="M10 10 L50 10 L50 50 Z"/>'))
    assert bool(scene.closed[0, 0]) and scene.num_segments[0, 0] == 3  # two lines + the closing
    torch.testing.assert_close(scene.points[0, 0, 6], torch.tensor([50.0, 50.0]))


def test_subpaths_of_one_element_share_a_shape_index(tmp_path):
    body = ('<path d="M0 0 H40 V40 H0 Z M10 10 H30 V30 H10 Z" fill-rule="evenodd"/>'
            '<rect x="50" y="50" width="10" height="10"/>')
    scene = load_quietly(write_svg(tmp_path, body))
    assert scene.compound[0].tolist() == [0, 0, 1]
    assert scene.fill_rule[0].tolist() == [FillRule.EVENODD, FillRule.EVENODD, FillRule.NONZERO]


def test_stroke_width_under_non_uniform_scale_is_the_root_of_the_determinant_and_named(tmp_path):
    body = '<g transform="scale(2 8)"><path d="M0 0 L5 5" stroke="black" stroke-width="1.5"/></g>'
    with pytest.warns(UserWarning, match="stroke widths under skew or non-uniform scale"):
        scene = load_svg(write_svg(tmp_path, body))
    assert scene.stroke_width[0, 0].item() == pytest.approx(1.5 * 4)


def test_stroke_under_a_barely_non_uniform_scale_loads_silently(tmp_path):
    body = '<g transform="scale(1 1.1)"><path d="M0 0 L5 5" stroke="black" stroke-width="2"/></g>'
    scene = load_quietly(write_svg(tmp_path, body))
    assert scene.stroke_width[0, 0].item() == pytest.approx(2 * math.sqrt(1.1))


def test_nested_group_transforms_compose(tmp_path):
    body = ('<g transform="translate(10 20)"><g transform="rotate(90)"><g transform="scale(2)">'
            '<path d="M0 0 L5 0" stroke="black"/></g></g></g>')
    scene = load_quietly(write_svg(tmp_path, body))
    torch.testing.assert_close(scene.points[0, 0, 3], torch.tensor([10.0, 30.0]))


def test_use_elements_are_drawn_where_they_are_used(tmp_path):
    body = ('<defs><rect id="r" width="4" height="4" fill="red"/></defs>'
            '<use href="#r" x="20" y="30"/>')
    scene = load_quietly(write_svg(tmp_path, body))
    assert scene.num_paths == 1
    assert scene.points[0, 0, 0].tolist() == [20.0, 30.0]


def test_nested_viewport_is_placed_at_its_x_and_y(tmp_path):
    body = ('<svg x="50" y="30" width="40" height="40" viewBox="0 0 4 4">'
            '<rect x="1" width="2" height="2"/></svg>')
    scene = load_quietly(write_svg(tmp_path, body))
    torch.testing.assert_close(scene.points[0, 0, 0], torch.tensor([60.0, 30.0]))


def test_style_sheet_classes_and_ids_are_applied():
    scene = load_quietly(DATA / "structure.svg")
    torch.testing.assert_close(scene.fill_color[0, 0], torch.tensor([224, 80, 32, 255]) / 255)
    assert bool(scene.stroked[0, 0]) and scene.stroke_width[0, 0] == 2
    torch.testing.assert_close(scene.fill_color[0, 1], torch.tensor([0, 128, 128, 255]) / 255)


def test_zero_sized_shapes_are_not_drawn(tmp_path):
    body = ('<circle r="0"/><circle r="-3"/><rect width="0" height="5"/>'
            '<ellipse rx="4" ry="0"/><rect x="5" width="5" height="5"/>')
    assert load_quietly(write_svg(tmp_path, body)).num_paths == 1


@pytest.mark.parametrize("container, feature", [
    ('<mask id="k"><rect width="9" height="9" fill="white"/></mask>', None),
    ('<marker id="k"><path d="M0 0 L5 5"/></marker>', None),
    ('<pattern id="k" width="4" height="4"><rect width="2" height="2"/></pattern>', None),
    ('<symbol id="k"><rect width="9" height="9"/></symbol>', None),
])
def test_content_of_masks_markers_patterns_and_symbols_is_not_drawn_in_place(
        tmp_path, container, feature):
    path = write_svg(tmp_path, container + '<rect x="50" width="5" height="5"/>')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_svg(path)
    assert scene.num_paths == 1 and scene.points[0, 0, 0, 0] == 50
    if feature is None:
        assert not caught
    else:
        assert len(caught) == 1 and feature in str(caught[0].message)


def test_a_used_symbol_is_drawn_where_it_is_used(tmp_path):
    body = '<symbol id="k"><rect width="9" height="9"/></symbol><use href="#k" x="20"/>'
    scene = load_quietly(write_svg(tmp_path, body))
    assert scene.num_paths == 1 and scene.points[0, 0, 0].tolist() == [20.0, 0.0]


def test_markers_are_drawn_and_masks_and_patterns_in_use_are_reported(tmp_path):
    body = ('<defs><mask id="m"><rect width="9" height="9" fill="white"/></mask>'
            '<marker id="a" markerWidth="9" markerHeight="9" refX="2" refY="2" '
            'markerUnits="userSpaceOnUse"><rect width="4" height="4"/></marker>'
            '<pattern id="p" width="4" height="4"><rect width="2" height="2"/></pattern></defs>'
            '<rect width="9" height="9" mask="url(#m)" fill="url(#p)"/>'
            '<path d="M50 50 L90 90" stroke="black" marker-end="url(#a)"/>')
    with pytest.warns(UserWarning, match="masks .*, patterns"):
        scene = load_svg(write_svg(tmp_path, body))
    assert scene.num_paths == 2  # the line and its marker; the rect has no paint left
    torch.testing.assert_close(scene.points[0, 1, 0], torch.tensor([88.0, 88.0]))


def test_hidden_elements_are_left_out(tmp_path):
    body = ('<rect width="5" height="5" display="none"/><rect width="5" height="5" '
            'visibility="hidden"/><rect x="9" width="5" height="5"/>')
    scene = load_quietly(write_svg(tmp_path, body))
    assert scene.num_paths == 1 and scene.points[0, 0, 0, 0] == 9


# ---- paint ----------------------------------------------------------------------------------


@pytest.mark.parametrize("paint, rgb", [
    ("red", (255, 0, 0)), ("cornflowerblue", (100, 149, 237)), ("#f80", (255, 136, 0)),
    ("#2e8b57", (46, 139, 87)), ("rgb(200, 30, 90)", (200, 30, 90)),
    ("rgb(10%, 60%, 80%)", (25.5, 153, 204)), ("currentColor", (170, 51, 102)),
])
def test_every_css_colour_form_is_read(tmp_path, paint, rgb):
    path = write_svg(tmp_path, f'<rect width="5" height="5" stroke="{paint}" fill="{paint}"/>',
                     'width="10" height="10" color="#aa3366"')
    scene = load_quietly(path)
    expected = torch.tensor([c / 255 for c in rgb])
    torch.testing.assert_close(scene.fill_color[0, 0, :3], expected, atol=1 / 255, rtol=0)
    torch.testing.assert_close(scene.stroke_color[0, 0, :3], expected, atol=1 / 255, rtol=0)


def test_svg_defaults_are_black_fill_no_stroke_butt_caps(tmp_path):
    scene = load_quietly(write_svg(tmp_path, '<path d="M0 0 L10 0 L10 10"/>'))
    assert bool(scene.filled[0, 0]) and not bool(scene.stroked[0, 0])
    assert scene.fill_color[0, 0].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert scene.linecap[0, 0] == LineCap.BUTT
    assert scene.background[0, 3] == 0  # no background rectangle: transparent


def test_opacities_multiply_through_groups_into_both_alphas(tmp_path):
    body = ('<g opacity="0.5"><g style="opacity:0.5"><path d="M0 0 L10 10" fill="red" '
            'fill-opacity="0.8" stroke="blue" stroke-opacity="0.4" opacity="0.5"/></g></g>')
    with pytest.warns(UserWarning, match="group opacity over overlapping shapes"):
        scene = load_svg(write_svg(tmp_path, body))  # fill and stroke overlap
    assert scene.fill_color[0, 0, 3].item() == pytest.approx(0.8 * 0.125)
    assert scene.stroke_color[0, 0, 3].item() == pytest.approx(0.4 * 0.125)


@pytest.mark.parametrize("cap", ["butt", "round", "square"])
def test_linecap_is_read_and_inherited_from_groups(tmp_path, cap):
    body = f'<g stroke-linecap="{cap}"><path d="M0 0 L10 10" stroke="black"/></g>'
    scene = load_quietly(write_svg(tmp_path, body))
    assert scene.linecap[0, 0] == LineCap[cap.upper()]


def test_percentages_refer_to_the_matching_side_of_the_viewport(tmp_path):
    body = '<rect x="10%" width="50%" height="100%"/>'
    scene = load_quietly(write_svg(tmp_path, body, 'width="40" height="30"'))
    corners = scene.points[0, 0, : 3 * int(scene.num_segments[0, 0]) : 3]
    assert corners.amax(0).tolist() == [24.0, 30.0] and corners.amin(0).tolist() == [4.0, 0.0]


def test_full_canvas_rectangle_becomes_the_background(tmp_path):
    body = '<rect width="100%" height="100%" fill="#ff8000"/><circle cx="5" cy="5" r="3"/>'
    scene = load_quietly(write_svg(tmp_path, body, 'width="40" height="30"'))
    assert scene.num_paths == 1
    torch.testing.assert_close(scene.background[0], torch.tensor([1.0, 128 / 255, 0.0, 1.0]))


def test_device_and_dtype_are_honoured():
    scene = load_svg(DATA / "shapes.svg", dtype=torch.float64, device="cpu")
    assert scene.points.dtype == torch.float64 and scene.stroke_color.dtype == torch.float64
    assert scene.batch_size == 1 and scene.device.type == "cpu"


# ---- what cannot be represented, and broken files -------------------------------------------


def test_unrepresentable_features_are_skipped_with_one_warning_listing_them():
    with pytest.warns(UserWarning) as caught:
        scene = load_svg(DATA / "skipped.svg")
    assert len(caught) == 1
    message = str(caught[0].message)
    for feature in ("text", "images", "gradients", "dashes", "filters"):
        assert feature in message
    assert "clip paths" not in message  # a rectangle clipping a fill is exact
    # the green rect, the gradient rect's stroke, the dashed line (solid), the blurred and
    # the clipped circle still load
    assert scene.num_paths == 5
    assert not bool(scene.filled[0, 1]) and bool(scene.stroked[0, 1])
    clipped = scene.points[0, 4, : 3 * int(scene.num_segments[0, 4])]
    assert clipped[:, 1].max() == pytest.approx(40.0)  # the circle reached y = 55


def test_a_clip_path_that_is_not_a_rectangle_is_named(tmp_path):
    body = ('<clipPath id="c"><circle cx="20" cy="20" r="10"/></clipPath>'
            '<rect width="40" height="40" clip-path="url(#c)"/>')
    with pytest.warns(UserWarning, match="clip paths"):
        load_svg(write_svg(tmp_path, body))


def test_shapes_with_coordinates_beyond_float32_are_skipped_with_a_warning(tmp_path):
    body = '<path d="M1e60 0 L5 5" stroke="red"/><rect width="2" height="2"/>'
    with pytest.warns(UserWarning, match="huge or infinite coordinates"):
        scene = load_svg(write_svg(tmp_path, body))
    assert scene.num_paths == 1 and torch.isfinite(scene.points).all()


@pytest.mark.parametrize("attrs", ['width="0" height="10"', 'width="10" height="-5"',
                                   'xmlns:x="urn:x" width="10" height="10"'])
def test_unusable_root_raises_svg_import_error(tmp_path, attrs):
    path = tmp_path / "root.svg"
    namespace = "urn:not-svg" if "urn:x" in attrs else "http://www.w3.org/2000/svg"
    path.write_text(f'<svg xmlns="{namespace}" {attrs}><rect width="1" height="1"/></svg>')
    with pytest.raises(SvgImportError):
        load_svg(path)


def test_supported_files_load_without_warnings():
    for name in FIXTURES:
        load_quietly(DATA / name)


@pytest.mark.parametrize("content, fragment", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("this is not xml", "not valid XML"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><rect', "not valid XML"),
    ("<html><body/></html>", "not an SVG"),
])
def test_broken_files_raise_a_clear_error(tmp_path, content, fragment):
    path = tmp_path / "broken.svg"
    path.write_text(content)
    with pytest.raises(SvgImportError, match=fragment):
        load_svg(path)


def test_missing_file_raises_svg_import_error_which_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_svg(tmp_path / "nowhere.svg")


def test_document_without_shapes_loads_as_an_empty_scene(tmp_path):
    scene = load_quietly(write_svg(tmp_path, "<g/>"))
    assert scene.num_paths == 0 and (scene.width, scene.height) == (100, 100)
    assert math.isclose(float(scene.background[0, 3]), 0.0)
