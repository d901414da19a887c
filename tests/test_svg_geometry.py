"""usvg path data and matrices: the vectorised parser agrees with the one-command-at-a-time one,
and matrices compose and invert as SVG's ``(a, b, c, d, e, f)``."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clipdraw.svg.geometry import (
    apply,
    compose,
    cubic_chains,
    cubic_chains_slowly,
    inverse,
    stretches,
)

_COORDINATE = st.integers(-50, 50).map(str)
_COMMAND = st.one_of(
    st.tuples(st.just("M"), st.lists(_COORDINATE, min_size=2, max_size=2)),
    st.tuples(st.just("L"), st.lists(_COORDINATE, min_size=2, max_size=2)),
    st.tuples(st.just("C"), st.lists(_COORDINATE, min_size=6, max_size=6)),
    st.tuples(st.just("Q"), st.lists(_COORDINATE, min_size=4, max_size=4)),
    st.tuples(st.just("Z"), st.just([])),
)


@settings(max_examples=200, deadline=None)
@given(commands=st.lists(_COMMAND, max_size=12))
def test_vectorised_path_data_parser_agrees_with_the_plain_one(commands):
    data = " ".join(f"{letter} {' '.join(numbers)}".strip() for letter, numbers in commands)
    fast, slow = cubic_chains(data), cubic_chains_slowly(data)
    assert len(fast) == len(slow), data
    for (a, closed_a), (b, closed_b) in zip(fast, slow):
        assert closed_a == closed_b and a.shape == b.shape, data
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_composed_matrices_apply_the_inner_one_first_and_invert():
    rotate = (0.0, 1.0, -1.0, 0.0, 0.0, 0.0)  # 90 degrees
    shift = (1.0, 0.0, 0.0, 1.0, 5.0, 0.0)
    point = np.array([[1.0, 0.0]])
    np.testing.assert_allclose(apply(compose(rotate, shift), point), [[0.0, 6.0]])
    both = compose(rotate, shift)
    np.testing.assert_allclose(apply(compose(inverse(both), both), point), point)


def test_stretches_are_the_singular_values():
    assert stretches((2.0, 0.0, 0.0, 8.0, 0.0, 0.0)) == (8.0, 2.0)
    big, small = stretches((1.0, 0.0, math.tan(math.radians(20)), 1.0, 0.0, 0.0))
    assert math.isclose(big * small, 1.0) and big > 1.19  # a skew keeps the area
