"""The renderer's geometry: box-filter coverage of an edge, cubic segments, closest points."""

import math

import torch

from clipdraw.render.bezier import evaluate, path_segments, polynomial, power_basis, project
from clipdraw.render.coverage import band_coverage, edge_coverage


def _grid_coverage(offset: float, angle: float, inside_band: float | None = None) -> float:
    """Fraction of a 400x400 grid over the unit pixel on the covered side of the edge."""
    steps = (torch.arange(400, dtype=torch.float64) + 0.5) / 400 - 0.5
    u, v = torch.meshgrid(steps, steps, indexing="xy")
    along = u * math.cos(angle) + v * math.sin(angle)
    if inside_band is None:
        return float((along <= offset).double().mean())
    return float(((along - offset).abs() <= inside_band).double().mean())


def test_edge_coverage_is_the_exact_box_filter_at_every_orientation():
    for angle in (0.0, 0.3, math.pi / 4, 1.2, 2.5):
        normal = torch.tensor([[math.cos(angle), math.sin(angle)]], dtype=torch.float64)
        for offset in (-0.8, -0.5, -0.2, 0.0, 0.1, 0.45, 0.7):
            exact = _grid_coverage(offset, angle)
            ours = float(edge_coverage(torch.tensor([offset], dtype=torch.float64), normal))
            assert abs(ours - exact) < 4e-3, (angle, offset, ours, exact)


def test_edge_coverage_reaches_exactly_zero_and_one():
    normal = torch.tensor([[0.6, 0.8], [1.0, 0.0]])
    assert edge_coverage(torch.tensor([-0.71, -0.501]), normal).tolist() == [0.0, 0.0]
    assert edge_coverage(torch.tensor([0.71, 0.501]), normal).tolist() == [1.0, 1.0]


def test_band_coverage_of_a_thin_band_matches_the_grid():
    angle = 0.4
    normal = torch.tensor([[math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    for centre, half in ((0.0, 0.2), (0.3, 0.25), (0.6, 0.5)):
        exact = _grid_coverage(centre, angle, inside_band=half)
        ours = float(band_coverage(torch.tensor([centre], dtype=torch.float64),
                                   torch.tensor([half], dtype=torch.float64), normal))
        assert abs(ours - exact) < 4e-3, (centre, half, ours, exact)


def test_path_segments_share_points_and_close_back_to_the_start():
    points = torch.arange(20, dtype=torch.float32).view(1, 10, 2).expand(2, -1, -1).clone()
    controls, valid = path_segments(points, torch.tensor([3, 2]), torch.tensor([False, True]))
    assert controls.shape == (2, 4, 4, 2)
    assert valid.tolist() == [[True, True, True, True], [True, True, False, False]]
    torch.testing.assert_close(controls[0, 1, 0], controls[0, 0, 3])  # a shared joint
    torch.testing.assert_close(controls[1, 1, 3], points[1, 0])  # closed: back to point 0
    closing = controls[0, 3]  # the open path's closing line, from its end to its start
    torch.testing.assert_close(closing[0], points[0, 9])
    torch.testing.assert_close(closing[3], points[0, 0])
    torch.testing.assert_close(closing[1], (2 * points[0, 9] + points[0, 0]) / 3)


def test_power_basis_evaluates_like_the_bernstein_form():
    controls = torch.randn(5, 4, 2, dtype=torch.float64)
    t = torch.rand(5, dtype=torch.float64)
    coefficients = power_basis(controls)
    for derivative in (0, 1, 2):
        torch.testing.assert_close(polynomial(coefficients, t, derivative),
                                   evaluate(controls, t, derivative))


def test_project_finds_the_closest_point_of_the_curve():
    generator = torch.Generator().manual_seed(1)
    controls = torch.rand(64, 4, 2, generator=generator, dtype=torch.float64) * 20
    query = torch.rand(64, 2, generator=generator, dtype=torch.float64) * 20
    dense = torch.linspace(0, 1, 20001, dtype=torch.float64)
    curve = evaluate(controls[:, None], dense.expand(64, -1))
    brute = (curve - query[:, None]).norm(dim=-1).min(1).values
    # Start from the best of 16 samples, as the renderer starts from its nearest piece.
    coarse = torch.linspace(0, 1, 17, dtype=torch.float64)
    start = coarse[(evaluate(controls[:, None], coarse.expand(64, -1)) - query[:, None])
                   .norm(dim=-1).argmin(1)]
    t = project(power_basis(controls), query, start, iterations=4)
    found = (evaluate(controls, t) - query).norm(dim=-1)
    assert (found - brute).max() < 1e-3
