"""SVG import of each feature real files use, against resvg's (and cairo's) rendering of the file.

Each document is small and written from the SVG specification for one cause of wrong imports
(CSS, colour syntax, viewports, ``<switch>``, ``<use>``, markup to ignore, path data, transforms,
text). clipdraw reads it (``load_svg``) and draws it (``render``); resvg draws the original file.
Criteria (renderer issue): against resvg mean abs error <= 2.5/255 and 99th percentile <= 24/255,
on RGB over white. Each file is also checked independently of clipdraw's renderer: resvg draws
our reading of it (written back by the tiny writer of ``svg_oracles.py``) like the original
(mean <= 0.5, p99 <= 10). ``pytest -rP`` prints the measured numbers.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from svg_oracles import render_cairo, render_resvg, rgb_over_white, scene_to_svg_string

from clipdraw.render import render
from clipdraw.scene import LineJoin
from clipdraw.svg import load_svg

MEAN_LIMIT, P99_LIMIT = 2.5, 24.0
HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="64" height="48" stroke-linejoin="round">')

# name -> (document body, whether cairosvg draws it correctly too)
CASES = {
    "fill-inherit": ('<g fill="#1a8040"><rect x="4" y="4" width="30" height="20" fill="inherit"/>'
                     '</g>', True),
    "current-color-where-used": (
        '<g color="red"><g fill="currentColor" color="blue"><rect x="4" y="4" width="30" '
        'height="20" color="green"/></g></g>', False),
    "rgb-with-spaces-and-upper-case": (
        '<rect x="4" y="4" width="20" height="20" fill="rgb( 0 , 128 , 0 )"/>'
        '<rect x="30" y="4" width="20" height="20" fill="RGB(200,20,20)"/>', False),
    "css-comment-in-style-attribute": (
        '<rect x="4" y="4" width="30" height="20" style="/* a note */ fill: #2060c0; '
        'stroke: /* another */ black; stroke-width: 3"/>', False),
    "attribute-and-child-selectors": (
        '<style>rect[data-kind="a"] { fill: #c03030 } g > circle { fill: #3030c0 }</style>'
        '<rect data-kind="a" x="4" y="4" width="20" height="20"/>'
        '<g><circle cx="44" cy="24" r="12"/></g><circle cx="44" cy="24" r="4" fill="white"/>',
        False),
    "selector-specificity": (
        '<style>#special { fill: #20a020 } .box { fill: #a02020 } rect { fill: #2020a0 }</style>'
        '<rect class="box" id="special" x="4" y="4" width="20" height="20"/>'
        '<rect class="box" x="30" y="4" width="20" height="20"/>', False),
    "style-sheet-after-its-use": (
        '<rect class="late" x="4" y="4" width="30" height="20"/>'
        '<style>.late { fill: #e08020 }</style>', True),
    "non-css-style-sheet-is-ignored": (
        '<style type="text/not-css">rect { fill: red }</style>'
        '<rect x="4" y="4" width="30" height="20" fill="#208020"/>', False),
    "nested-viewport-clips-its-content": (
        '<svg x="10" y="8" width="24" height="24" viewBox="0 0 10 10">'
        '<circle cx="5" cy="5" r="8" fill="#4060e0"/></svg>', True),
    "use-sizes-a-referenced-svg": (
        '<defs><svg id="icon" viewBox="0 0 10 10"><rect width="10" height="10" '
        'fill="#c04080"/></svg></defs><use xlink:href="#icon" x="4" y="4" width="40" '
        'height="30"/>', False),
    "nested-viewport-clips-a-ring-under-evenodd": (
        '<svg x="8" y="4" width="30" height="40" viewBox="0 0 30 40"><path fill-rule="evenodd" '
        'fill="#e06020" d="M-10 20 A 22 22 0 1 0 34 20 A 22 22 0 1 0 -10 20 Z M2 20 A 10 10 0 '
        '1 0 22 20 A 10 10 0 1 0 2 20 Z"/></svg>', True),
    "current-color-inside-a-use": (
        '<defs><rect id="r" width="20" height="20" fill="currentColor"/></defs>'
        '<use xlink:href="#r" x="4" y="4" color="#20a060"/>', True),
    "switch-draws-its-first-valid-child": (
        '<switch><rect x="4" y="4" width="20" height="20" fill="red" '
        'requiredExtensions="http://example.org/none"/><rect x="4" y="4" width="20" '
        'height="20" fill="#208020"/><rect x="30" y="4" width="20" height="20" fill="blue"/>'
        '</switch>', False),
    "children-of-shapes-and-unknown-elements-are-not-drawn": (
        '<rect x="4" y="4" width="20" height="20" fill="#208020"><rect x="30" y="4" '
        'width="20" height="20" fill="red"/></rect><unknown><rect x="30" y="24" width="20" '
        'height="20" fill="red"/></unknown>', False),
    "first-of-duplicate-ids": (
        '<defs><rect id="r" width="20" height="20" fill="#208020"/><rect id="r" width="20" '
        'height="20" fill="red"/></defs><use xlink:href="#r" x="10" y="10"/>', False),
    "root-opacity": ('<rect x="4" y="4" width="40" height="30" fill="#102080"/>', True),
    "s-after-t-does-not-reflect-the-quadratic-control": (
        '<path d="M4 30 Q14 16 24 30 T44 30 S54 16 60 30" fill="none" stroke="black" '
        'stroke-width="3"/>', False),
    "path-data-draws-up-to-its-first-error": (
        '<path d="M4 4 L40 4 L40 40 L 4 x 40 Z" fill="#2060c0"/>'
        '<path d="L10 10 L50 40" stroke="red" stroke-width="3"/>'
        '<rect x="48" y="4" width="10" height="10"/>', False),
    "skewed-circle-is-a-skewed-ellipse": (
        '<circle cx="20" cy="24" r="14" fill="#2060c0" transform="skewX(20)"/>', True),
    "transform-origin": (
        '<rect x="10" y="10" width="30" height="12" fill="#c03030" transform="rotate(30)" '
        'transform-origin="25 16"/>', False),
    "transform-on-a-nested-svg": (
        '<svg x="4" y="4" width="30" height="30" transform="translate(16 2)">'
        '<rect width="12" height="12" fill="#3060c0"/></svg>', False),
    "markers-oriented-along-the-path-and-clipped-to-their-viewport": (
        '<marker id="m" markerWidth="6" markerHeight="6" refX="3" refY="3" orient="auto">'
        '<path d="M0 0 L6 3 L0 6z" fill="#a02020"/><circle cx="3" cy="3" r="5" '
        'fill="#2020a0" fill-opacity="0.5"/></marker><path d="M6 40 L52 10" stroke="black" '
        'stroke-width="2" marker-end="url(#m)" marker-start="url(#m)"/>', False),
    "zero-length-subpaths-draw-their-caps": (
        '<path d="M16 20 Z" stroke="black" stroke-width="10" stroke-linecap="round"/>'
        '<path d="M44 24 Z M30 40 Z" stroke="#2060c0" stroke-width="8" '
        'stroke-linecap="round"/>', False),
    "arcs-and-elliptical-arcs": (
        '<path d="M8 40 A20 12 30 0 1 56 30 A8 8 0 1 0 40 12" fill="none" stroke="#802020" '
        'stroke-width="3"/>', True),
}
ROOT_ATTRIBUTES = {"root-opacity": ' opacity="0.5"'}


def _document(name: str) -> str:
    body, _ = CASES[name]
    return HEAD.replace(">", ROOT_ATTRIBUTES.get(name, "") + ">", 1) + body + "</svg>"


def _ours(path: Path, document: str | None = None) -> tuple[np.ndarray, list[str]]:
    """clipdraw's render of the file and its warnings; with ``document`` (the file's text), also
    check that resvg draws our reading of the file like the file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_svg(path)
    if document is not None:
        mean, p99 = _errors(rgb_over_white(render_resvg(scene_to_svg_string(scene), 64, 48)),
                            rgb_over_white(render_resvg(document, 64, 48)))
        print(f"{path.stem}: our reading drawn by resvg: mean {mean:.3f}, p99 {p99:.2f}")
        assert mean <= 0.5 and p99 <= 10, ("reading", mean, p99)
    with torch.no_grad():
        image = render(scene)[0].double().clamp(0, 1).permute(1, 2, 0).numpy()
    return rgb_over_white(image), [str(w.message) for w in caught]


def _errors(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    difference = np.abs(ours - theirs)
    return float(difference.mean()), float(np.percentile(difference, 99))


@pytest.mark.parametrize("name", list(CASES))
def test_feature_draws_like_resvg(tmp_path, name):
    document = _document(name)
    path = tmp_path / f"{name}.svg"
    path.write_text(document)
    ours, messages = _ours(path, document)
    assert not messages, messages
    mean, p99 = _errors(ours, rgb_over_white(render_resvg(document, 64, 48)))
    print(f"{name} vs resvg: mean {mean:.3f}, p99 {p99:.2f}")
    assert mean <= MEAN_LIMIT and p99 <= P99_LIMIT, (name, mean, p99)
    if CASES[name][1]:
        mean, p99 = _errors(ours, rgb_over_white(render_cairo(document, 64, 48)))
        print(f"{name} vs cairo: mean {mean:.3f}, p99 {p99:.2f}")
        assert mean <= MEAN_LIMIT and p99 <= P99_LIMIT, (name, "cairo", mean, p99)


def test_s_after_t_takes_the_current_point_as_its_first_control(tmp_path):
    # SVG 1.1, 8.3.6: S after anything but C/S has its first control at the current point.
    path = tmp_path / "st.svg"
    path.write_text(HEAD + '<path d="M0 10 T10 10 S30 0 40 10" stroke="black" fill="none"/>'
                    '</svg>')
    scene = load_svg(path)
    torch.testing.assert_close(scene.points[0, 0, 4:7], torch.tensor(
        [[10.0, 10.0], [30.0, 0.0], [40.0, 10.0]]))


def test_recursive_use_is_dropped_with_a_warning_and_the_rest_drawn(tmp_path):
    document = (HEAD + '<g id="loop"><rect x="4" y="4" width="20" height="20" fill="#208020"/>'
                '<use xlink:href="#loop" x="30"/></g><use id="self" xlink:href="#self"/></svg>')
    path = tmp_path / "recursive.svg"
    path.write_text(document)
    ours, messages = _ours(path)
    assert len(messages) == 1 and "recursive <use>" in messages[0]
    mean, p99 = _errors(ours, rgb_over_white(render_resvg(document, 64, 48)))
    assert mean <= MEAN_LIMIT and p99 <= P99_LIMIT, (mean, p99)


@pytest.mark.parametrize("text", [
    '<text x="4" y="20" font-size="12">Hello</text>',
    '<flowRoot><flowRegion><rect width="50" height="30"/></flowRegion>'
    '<flowPara>Flowed text</flowPara></flowRoot>',
])
def test_text_of_any_kind_is_skipped_with_a_warning(tmp_path, text):
    path = tmp_path / "text.svg"
    path.write_text(HEAD + text + '<rect x="40" y="30" width="10" height="10"/></svg>')
    with pytest.warns(UserWarning, match="text"):
        scene = load_svg(path)
    assert scene.num_paths == 1 and scene.points[0, 0, 0].tolist() == [40.0, 30.0]


def test_foreign_html_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "html.svg"
    path.write_text(HEAD + '<foreignObject width="40" height="20"><p xmlns="http://www.w3.org/'
                    '1999/xhtml">Hi</p></foreignObject><rect x="40" y="30" width="10" '
                    'height="10"/></svg>')
    with pytest.warns(UserWarning, match="foreignObject"):
        scene = load_svg(path)
    assert scene.num_paths == 1


def test_gzipped_svgz_is_read(tmp_path):
    path = tmp_path / "drawing.svgz"
    path.write_bytes(gzip.compress((HEAD + '<rect x="4" y="6" width="8" height="8"/></svg>')
                                   .encode()))
    scene = load_svg(path)
    assert scene.num_paths == 1 and scene.points[0, 0, 0].tolist() == [4.0, 6.0]


#: Joins from SVG 1.1 (11.4, stroke-linejoin and stroke-miterlimit), each drawn exactly: the
#: document body (its joins are the file's; the head's round join is left out).
JOIN_CASES = {
    "miter-at-an-obtuse-angle": '<path d="M8 40 L32 8 L56 40" stroke-width="6"/>',
    "bevel": '<path d="M8 40 L32 8 L56 40" stroke-width="6" stroke-linejoin="bevel"/>',
    "miter-under-its-limit": ('<path d="M8 40 L32 8 L24 40" stroke-width="5" '
                              'stroke-miterlimit="5.2"/>'),
    "miter-over-its-limit-is-bevelled": ('<path d="M8 40 L32 8 L24 40" stroke-width="5" '
                                         'stroke-miterlimit="4.9"/>'),
    "closed-path-joins-at-its-start": ('<path d="M10 40 L32 6 L54 40 Z" stroke-width="5" '
                                       'stroke="#2060c0"/>'),
    "polygon-and-polyline": ('<polygon points="6,6 28,10 20,30" stroke-width="4"/>'
                             '<polyline points="34,40 44,8 52,40 60,12" stroke-width="3" '
                             'stroke-linejoin="bevel"/>'),
    "rotated-and-scaled-rectangle": ('<rect x="8" y="6" width="16" height="10" stroke-width="2" '
                                     'transform="rotate(25 32 24) scale(1.5)"/>'),
    "duplicate-points-keep-the-join": '<path d="M8 40 L32 8 L32 8 L56 40" stroke-width="6"/>',
}
#: No pixel of a join drawn like resvg's is further off than this (/255); a join drawn round
#: misses the miter tip or fills the bevel's cut corner by far more.
JOIN_WORST = 64.0


@pytest.mark.parametrize("name", list(JOIN_CASES))
def test_joins_draw_like_resvg_and_cairo_without_a_warning(tmp_path, name):
    head = HEAD.replace(' stroke-linejoin="round"', ' fill="none" stroke="black"')
    document = head + JOIN_CASES[name] + "</svg>"
    path = tmp_path / f"{name}.svg"
    path.write_text(document)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene = load_svg(path)
    with torch.no_grad():
        ours = rgb_over_white(render(scene)[0].double().clamp(0, 1).permute(1, 2, 0).numpy())
    for oracle in (render_resvg, render_cairo):
        theirs = rgb_over_white(oracle(document, 64, 48))
        mean, p99 = _errors(ours, theirs)
        worst = float(np.abs(ours - theirs).max())
        print(f"{name} vs {oracle.__name__}: mean {mean:.3f}, p99 {p99:.2f}, max {worst:.1f}")
        assert mean <= MEAN_LIMIT and p99 <= P99_LIMIT and worst <= JOIN_WORST, (
            name, oracle.__name__, mean, p99, worst)


def test_joins_and_miter_limit_are_read_from_the_file(tmp_path):
    path = tmp_path / "joins.svg"
    path.write_text(HEAD.replace(' stroke-linejoin="round"', "") +
                    '<g stroke="black" stroke-linejoin="bevel"><path d="M0 0 L9 9 L0 9"/></g>'
                    '<path d="M0 0 L9 9 L0 9" stroke="black" stroke-miterlimit="7.5"/>'
                    '<path d="M0 0 L9 9 L0 9" stroke="black" stroke-linejoin="round"/>'
                    '<path d="M0 0 L9 9 L0 9" stroke="black" stroke-linejoin="arcs"/></svg>')
    scene = load_svg(path)
    # SVG 2's arcs is not SVG 1.1; usvg and resvg read it as the initial value, miter.
    assert scene.linejoin[0].tolist() == [LineJoin.BEVEL, LineJoin.MITER, LineJoin.ROUND,
                                          LineJoin.MITER]
    assert scene.miter_limit[0].tolist() == [4.0, 7.5, 4.0, 4.0]


def test_group_opacity_over_separate_children_is_exact_and_silent(tmp_path):
    document = (HEAD + '<g opacity="0.5"><rect x="4" y="4" width="20" height="20" fill="red"/>'
                '<rect x="30" y="10" width="20" height="20" fill="blue"/></g></svg>')
    path = tmp_path / "separate.svg"
    path.write_text(document)
    ours, messages = _ours(path)
    assert not messages
    mean, p99 = _errors(ours, rgb_over_white(render_resvg(document, 64, 48)))
    assert mean <= MEAN_LIMIT and p99 <= P99_LIMIT, (mean, p99)


#: Approximations that must be named: (the body of a 64x48 document, the warning's words).
NAMED_APPROXIMATIONS = {
    "stroke under non-uniform scale": (
        '<rect x="8" y="8" width="30" height="20" fill="none" stroke="black" stroke-width="6" '
        'transform="scale(1.5 0.8)"/>', "stroke widths under skew or non-uniform scale"),
    "group opacity over overlapping children": (
        '<g opacity="0.5"><rect x="4" y="4" width="30" height="20"/>'
        '<rect x="20" y="10" width="30" height="20"/></g>',
        "group opacity over overlapping shapes"),
    "clip path that cuts a shape": (
        '<clipPath id="c"><circle cx="20" cy="20" r="10"/></clipPath>'
        '<rect width="40" height="40" clip-path="url(#c)"/>', "clip paths"),
    "shapes drawn without anti-aliasing": (
        '<rect x="5.5" y="5.5" width="20" height="20" shape-rendering="crispEdges"/>',
        "crispEdges"),
    "an !important sheet rule against an inline style": (
        '<style>rect { fill: red !important }</style>'
        '<rect width="9" height="9" style="fill: blue"/>', "!important"),
}


@pytest.mark.parametrize("case", NAMED_APPROXIMATIONS)
def test_an_approximation_is_named_in_a_warning(tmp_path, case):
    body, words = NAMED_APPROXIMATIONS[case]
    path = tmp_path / "approximated.svg"
    path.write_text(HEAD + body + "</svg>")
    with pytest.warns(UserWarning, match=words):
        load_svg(path)
