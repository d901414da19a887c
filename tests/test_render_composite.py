"""Source-over compositing of images (`over`), the one formula the package composites with."""

import torch

from clipdraw.render import WHITE, over


def test_opaque_colour_underneath_gives_alpha_one_and_the_over_white_formula() -> None:
    images = torch.rand(2, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    out = over(images, WHITE)
    alpha = images[:, 3:]
    assert torch.equal(out[:, 3:], torch.ones_like(alpha))
    assert torch.equal(out[:, :3], images[:, :3] * alpha + (1 - alpha))


def test_translucent_over_translucent_matches_the_straight_alpha_formula() -> None:
    top = torch.tensor([0.2, 0.4, 0.6, 0.5])
    bottom = (1.0, 1.0, 0.0, 0.5)
    alpha = 0.5 + 0.5 * (1 - 0.5)
    rgb = (top[:3] * 0.5 + torch.tensor(bottom[:3]) * 0.5 * (1 - 0.5)) / alpha
    expected = torch.cat([rgb, torch.tensor([alpha])])
    torch.testing.assert_close(over(top, bottom, dim=-1), expected)
    torch.testing.assert_close(over(top, torch.tensor(bottom), dim=-1), expected)


def test_nothing_over_nothing_is_transparent_black_with_finite_gradients() -> None:
    top = torch.zeros(1, 4, 2, 2, requires_grad=True)
    out = over(top, torch.zeros(4, 1, 1))
    assert torch.equal(out, torch.zeros(1, 4, 2, 2))
    out.sum().backward()
    assert torch.isfinite(top.grad).all()


def test_over_is_associative_as_layered_paint_should_be() -> None:
    generator = torch.Generator().manual_seed(1)
    a, b, c = (torch.rand(4, 3, 3, generator=generator, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(over(over(a, b), c), over(a, over(b, c)))
