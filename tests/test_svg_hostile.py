"""Hostile SVG files: each loads (dropping what it must, with a warning) or is refused with
:class:`SvgImportError` naming the limit, within 30 s and 3 GiB; nothing else escapes.

The corpus is built here (small generators, not stored files). It runs in one subprocess, so that
its peak resident memory (``ru_maxrss``) is measured apart from the test runner; every probe's time
and outcome are reported back as JSON. A hypothesis fuzz test then throws random documents built
from SVG's own vocabulary (and hostile numbers) at ``load_svg`` in this process.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipdraw.svg import SvgImportError, load_svg
from clipdraw.svg.limits import SvgLimits

SECONDS = 30.0
PEAK_BYTES = 3 * 2**30
HEAD = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ' \
       'width="100" height="100">'


def _use_chain(levels: int) -> str:
    body = ['<defs><rect id="u0" width="1" height="1"/>']
    body += [f'<g id="u{i}"><use href="#u{i - 1}"/><use href="#u{i - 1}"/></g>'
             for i in range(1, levels + 1)]
    return HEAD + "".join(body) + f'</defs><use href="#u{levels}"/></svg>'


def _laughs() -> str:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {b} "{("&" + a + ";") * 10}">' for a, b in zip("abcdefg", "bcdefgh"))
    return f'<?xml version="1.0"?><!DOCTYPE svg [{entities}]>{HEAD}<text>&h;</text></svg>'


# name -> (file bytes, expected outcome: "loads", or a fragment of the SvgImportError message)
CORPUS = {
    "half-circle-arc-of-radius-1e40": (
        HEAD + '<path d="M0 0 A1e40 1e40 0 0 1 2e40 0" stroke="black"/><rect width="5" '
        'height="5"/></svg>', "loads"),
    "arc-of-radius-1e100": (
        HEAD + '<path d="M0 0 A1e100 1e100 0 1 1 10 0" stroke="black"/></svg>', "loads"),
    "stroke-width-1e30": (HEAD + '<path d="M0 0 L9 9" stroke="red" stroke-width="1e30"/></svg>',
                          "loads"),
    "use-chain-of-a-billion-copies": (_use_chain(30), "max_use_copies"),
    "self-referencing-use": (HEAD + '<use id="a" href="#a"/><rect width="5" height="5"/></svg>',
                             "loads"),
    "mutually-recursive-uses": (
        HEAD + '<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/><rect width="5" '
        'height="5"/></g></svg>', "loads"),
    "path-of-200000-segments": (
        HEAD + '<path stroke="black" fill="none" d="M0 0' + " l1 1 l-1 -1" * 100_000 + '"/></svg>',
        "loads"),
    "path-of-a-million-segments": (
        HEAD + '<path stroke="black" fill="none" d="M0 0' + " l1 1 l-1 -1" * 500_000 +
        '"/></svg>', "max_segments"),
    "twenty-megabyte-comment": (HEAD + "<!--" + "a" * 20_000_000 + '--><rect width="5" '
                                'height="5"/></svg>', "loads"),
    "nesting-100000-deep": (HEAD + "<g>" * 100_000 + "</g>" * 100_000 + "</svg>", "max_depth"),
    "600000-elements": (HEAD + "<g/>" * 600_000 + "</svg>", "max_elements"),
    "billion-laughs": (_laughs(), "not valid XML"),
    "external-entity": (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + HEAD + "<text>&x;</text></svg>", "not valid XML"),
    "canvas-of-1e9-px": ('<svg xmlns="http://www.w3.org/2000/svg" width="1e9" height="1e9"/>',
                         "no usable size"),
    "nan-and-inf-everywhere": (
        HEAD + '<rect x="nan" y="inf" width="NaN" height="-inf"/><circle r="inf"/>'
        '<g transform="scale(nan)"><rect width="5" height="5"/></g>'
        '<path d="M nan 0 L inf 5"/><rect width="5" height="5" opacity="nan"/></svg>', "loads"),
    "binary-junk": ("\x00\x01\x02<svg\xff\xfe", "not valid XML"),
}


def _write_corpus(folder: Path) -> dict[str, str]:
    """Write the corpus (and a gzip bomb) to ``folder``; names -> expected outcomes."""
    expected = {}
    for name, (text, outcome) in CORPUS.items():
        (folder / f"{name}.svg").write_bytes(text.encode("utf-8", "surrogateescape"))
        expected[name] = outcome
    with gzip.open(folder / "gzip-bomb-of-a-gigabyte.svg", "wb", compresslevel=9) as bomb:
        bomb.write(HEAD.encode())
        zeros = b" " * 2**20
        for _ in range(1024):
            bomb.write(zeros)
    expected["gzip-bomb-of-a-gigabyte"] = "max_file_bytes"
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", folder / "dev-zero.svg")
        expected["dev-zero"] = "max_file_bytes"
    return expected


_PROBE = textwrap.dedent("""
    import json, resource, sys, time, warnings
    from clipdraw.svg import SvgImportError, load_svg
    for path in sys.argv[1:]:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                load_svg(path)
                outcome = "loads"
            except SvgImportError as error:
                outcome = "SvgImportError: " + str(error)
            except BaseException as error:
                outcome = "ESCAPED " + type(error).__name__ + ": " + str(error)[:200]
        print(json.dumps({"path": path, "outcome": outcome,
                          "seconds": time.perf_counter() - start,
                          "warnings": [str(w.message) for w in caught],
                          "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                          * 1024}), flush=True)
""")


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("hostile")
    expected = _write_corpus(folder)
    paths = [str(folder / f"{name}.svg") for name in expected]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _PROBE, *paths], capture_output=True,
                          text=True, timeout=SECONDS * len(paths), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    results = {}
    for line in done.stdout.splitlines():
        record = json.loads(line)
        name = Path(record["path"]).stem
        results[name] = {**record, "expected": expected[name]}
    assert set(results) == set(expected)
    return results


@pytest.mark.parametrize("name", [*CORPUS, "gzip-bomb-of-a-gigabyte", "dev-zero"])
def test_hostile_file_loads_or_is_refused_with_the_limit_named_in_bounded_time_and_memory(
        probes, name):
    if name not in probes:
        pytest.skip("no /dev/zero here")
    probe = probes[name]
    print(f"{name}: {probe['outcome'][:120]} in {probe['seconds']:.2f} s, process peak "
          f"{probe['peak_bytes'] / 2**30:.2f} GiB")
    assert not probe["outcome"].startswith("ESCAPED"), probe["outcome"]
    if probe["expected"] == "loads":
        assert probe["outcome"] == "loads", probe["outcome"]
    else:
        assert probe["outcome"].startswith("SvgImportError") and \
            probe["expected"] in probe["outcome"], probe["outcome"]
        assert "\n" not in probe["outcome"]
    assert probe["seconds"] <= SECONDS
    assert probe["peak_bytes"] <= PEAK_BYTES


def test_limit_messages_say_how_to_raise_the_limit(probes):
    outcome = probes["use-chain-of-a-billion-copies"]["outcome"]
    assert "--limit max_use_copies=N" in outcome and "SvgLimits(max_use_copies=N)" in outcome


def test_dropped_shapes_and_recursive_uses_are_named_in_a_warning(probes):
    assert any("huge or infinite" in w for w in probes["half-circle-arc-of-radius-1e40"]
               ["warnings"])
    assert any("recursive <use>" in w for w in probes["self-referencing-use"]["warnings"])


def test_raising_a_limit_lets_the_file_load(tmp_path):
    path = tmp_path / "deep.svg"
    path.write_text(HEAD + "<g>" * 300 + '<rect width="5" height="5"/>' + "</g>" * 300 + "</svg>")
    with pytest.raises(SvgImportError, match="max_depth=256"):
        load_svg(path)
    assert load_svg(path, limits=SvgLimits(max_depth=400)).num_paths == 1


def test_a_normaliser_out_of_fuel_is_refused_naming_the_fuel_limit(tmp_path):
    path = tmp_path / "work.svg"
    path.write_text(HEAD + '<rect width="5" height="5"/>' * 200 + "</svg>")
    with pytest.raises(SvgImportError, match="max_normaliser_fuel"):
        load_svg(path, limits=SvgLimits(max_normaliser_fuel=100_000))


# ---- fuzz -----------------------------------------------------------------------------------

_NUMBERS = st.sampled_from(["0", "1", "-1", "10", "50%", "1e40", "-1e100", "nan", "inf", "1e-40",
                            "", "abc", "3px", "2mm", "1e308", "0.5"])
_PATHS = st.lists(st.tuples(st.sampled_from(list("MmLlHhVvCcSsQqTtAaZz")),
                            st.lists(_NUMBERS, max_size=7)), max_size=12).map(
    lambda commands: " ".join(c + " " + " ".join(n) for c, n in commands))
_ATTRIBUTES = {
    "x": _NUMBERS, "y": _NUMBERS, "width": _NUMBERS, "height": _NUMBERS, "r": _NUMBERS,
    "rx": _NUMBERS, "cx": _NUMBERS, "stroke-width": _NUMBERS, "opacity": _NUMBERS,
    "d": _PATHS, "points": st.lists(_NUMBERS, max_size=8).map(" ".join),
    "viewBox": st.lists(_NUMBERS, min_size=4, max_size=4).map(" ".join),
    "transform": st.sampled_from(["scale(0)", "skewX(90)", "rotate(nan)", "matrix(1 0 0 1e40 0 0)",
                                  "translate(1e308)", "scale(2 -1)", "nonsense("]),
    "fill": st.sampled_from(["red", "url(#a)", "currentColor", "inherit", "rgb(1e9,0,0)", "#zz"]),
    "stroke": st.sampled_from(["blue", "url(#b)", "none", "RGB( 0 , 0 , 0 )"]),
    "id": st.sampled_from(["a", "b", "c"]),
    "href": st.sampled_from(["#a", "#b", "#c", "#", "other.svg#a", "data:,x"]),
    "style": st.sampled_from(["fill:red", "/* x */ stroke: blue", "fill:", "}{", "a:b:c;;"]),
    "clip-path": st.sampled_from(["url(#a)", "url(#b)"]),
    "mask": st.sampled_from(["url(#c)"]),
}
_TAGS = ["rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "g", "use", "svg",
         "symbol", "defs", "switch", "clipPath", "mask", "marker", "linearGradient", "pattern",
         "text", "style", "image", "a", "unknown"]


def _element(children):
    return st.tuples(st.sampled_from(_TAGS), st.dictionaries(
        st.sampled_from(sorted(_ATTRIBUTES)), st.just(None), max_size=5), children)


@st.composite
def _documents(draw) -> str:
    tree = draw(st.recursive(_element(st.just([])),
                             lambda inner: _element(st.lists(inner, max_size=4)), max_leaves=24))

    def text(node) -> str:
        tag, names, children = node
        attributes = "".join(
            f' {name}="{draw(_ATTRIBUTES[name]).replace(chr(34), "")}"' for name in names)
        return f"<{tag}{attributes}>{''.join(text(c) for c in children)}</{tag}>"

    size = draw(st.sampled_from(['width="64" height="48"', 'viewBox="0 0 10 10"', "",
                                 'width="0" height="nan"', 'width="1e9" height="5"']))
    return f'<svg xmlns="http://www.w3.org/2000/svg" {size}>{text(tree)}</svg>'


@settings(max_examples=120, deadline=SECONDS * 1000,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(document=_documents())
def test_load_svg_raises_nothing_but_svg_import_error_on_random_documents(tmp_path, document):
    path = tmp_path / "fuzz.svg"
    path.write_text(document)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scene = load_svg(path)
        except SvgImportError as error:
            assert "\n" not in str(error)
        else:
            assert scene.points.isfinite().all()
    assert time.perf_counter() - start <= SECONDS
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 <= PEAK_BYTES
