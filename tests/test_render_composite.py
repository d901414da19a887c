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


def _autograd_composite(pixel, alpha, color, background, height, width):
    """The fragment compositing formula as plain autograd code (all intermediates kept)."""
    batch = background.shape[0]
    count = batch * height * width
    clear = torch.log1p(-alpha.double() * (1 - 1e-6))
    total = torch.zeros(count, dtype=torch.float64).index_add(0, pixel, clear)
    later = torch.stack([clear[(pixel == pixel[i]) & (torch.arange(len(pixel)) > i)].sum()
                         for i in range(len(pixel))]) if len(pixel) else clear
    contribution = alpha * torch.exp(later).to(alpha)
    paint = torch.zeros(count, 3, dtype=alpha.dtype).index_add(0, pixel,
                                                               color * contribution[:, None])
    cover = torch.zeros(count, dtype=alpha.dtype).index_add(0, pixel, contribution)
    through = torch.exp(total).to(alpha).view(batch, -1)
    out_alpha = cover.view(batch, -1) + background[:, 3:4] * through
    out_paint = (paint.view(batch, -1, 3)
                 + background[:, None, :3] * background[:, None, 3:] * through[..., None])
    visible = out_alpha > 0
    straight = torch.where(visible[..., None],
                           out_paint / torch.where(visible, out_alpha, 1.0)[..., None], 0.0)
    image = torch.cat([straight, out_alpha[..., None]], dim=-1)
    return image.view(batch, height, width, 4).permute(0, 3, 1, 2)


def _fragments(dtype, seed=0, count=40):
    generator = torch.Generator().manual_seed(seed)
    pixel = torch.randint(0, 2 * 3 * 4, (count,), generator=generator)
    alpha = torch.rand(count, generator=generator, dtype=dtype)
    alpha[::7] = 1.0  # opaque paint: gradients must stay finite under it
    alpha[::11] = 0.0
    color = torch.rand(count, 3, generator=generator, dtype=dtype)
    background = torch.rand(2, 4, generator=generator, dtype=dtype)
    background[1, 3] = 0.0  # a transparent canvas: pixels with no fragment are invisible
    return pixel, alpha, color, background


def test_fragment_compositing_matches_paint_order_per_pixel_with_its_gradients() -> None:
    from clipdraw.render.composite import composite

    pixel, *values = _fragments(torch.float32)
    leaves = [v.clone().requires_grad_(True) for v in values]
    twins = [v.clone().requires_grad_(True) for v in values]
    weights = torch.rand(2, 4, 3, 4, generator=torch.Generator().manual_seed(5))
    image = composite(pixel, *leaves, 3, 4)
    expected = _autograd_composite(pixel, *twins, 3, 4)
    torch.testing.assert_close(image, expected)
    (image * weights).sum().backward()
    (expected * weights).sum().backward()
    for leaf, twin in zip(leaves, twins):
        torch.testing.assert_close(leaf.grad, twin.grad, rtol=1e-4, atol=1e-5)


def test_fragment_compositing_gradients_match_finite_differences() -> None:
    from clipdraw.render.composite import composite

    pixel, alpha, color, background = _fragments(torch.float64, seed=1, count=24)
    # Finite differences need room on both sides (a transparent canvas is a kink).
    alpha, background = alpha.clamp(0.05, 0.95), background.clamp(0.05, 0.95)
    inputs = tuple(v.requires_grad_(True) for v in (alpha, color, background))
    assert torch.autograd.gradcheck(lambda a, c, b: composite(pixel, a, c, b, 3, 4), inputs)
