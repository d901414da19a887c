"""Augmentations: perspective + resized crop as one homography, white fill, per-drawing seeds."""

import pytest
import torch
from kornia.augmentation.random_generator import PerspectiveGenerator, ResizedCropGenerator
from kornia.geometry.transform import get_perspective_transform

from clipdraw.augment import augment, sample_views

NO_NORM = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def _apply(views, points):
    """Map (x, y) points through homographies; views (V, 3, 3), points (4, 2) -> (V, 4, 2)."""
    homogeneous = torch.cat([points, torch.ones(len(points), 1, dtype=points.dtype)], dim=1)
    mapped = torch.einsum("vij,pj->vpi", views, homogeneous)
    return mapped[..., :2] / mapped[..., 2:]


def test_no_distortion_and_a_full_crop_is_the_identity():
    image = torch.rand(2, 3, 24, 24)
    views = sample_views(torch.Generator().manual_seed(0), 2, 24, 24, (24, 24), distortion=0.0,
                         crop_scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(views, torch.eye(3, dtype=views.dtype).expand(2, 3, 3), atol=1e-9)
    out = augment(image, views[:1].repeat(2, 1, 1), (24, 24), *NO_NORM)
    assert torch.allclose(out, image, atol=1e-5)


def test_perspective_moves_each_corner_inwards_by_at_most_half_the_distortion():
    height, width, distortion = 30, 50, 0.5
    views = sample_views(torch.Generator().manual_seed(1), 200, height, width, (height, width),
                         distortion=distortion, crop_scale=(1.0, 1.0), ratio=(
                             width / height, width / height))
    corners = torch.tensor([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                           dtype=torch.float64)
    moved = _apply(views, corners)
    limit = torch.tensor([width, height], dtype=torch.float64) * distortion / 2  # kornia's
    inwards = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=torch.float64)
    offset = (moved - corners) * inwards
    assert offset.min() >= -1e-6 and (offset <= limit + 1e-6).all()
    assert offset.max() > 0.8 * limit.min()  # the whole range is used


def test_crops_cover_seventy_to_ninety_percent_of_the_canvas():
    views = sample_views(torch.Generator().manual_seed(2), 500, 64, 64, (32, 32), distortion=0.0)
    out_corners = torch.tensor([[0, 0], [31, 0], [31, 31], [0, 31]], dtype=torch.float64)
    box = _apply(torch.linalg.inv(views), out_corners)
    w = box[:, 1, 0] - box[:, 0, 0] + 1
    h = box[:, 2, 1] - box[:, 1, 1] + 1
    assert torch.allclose(w, w.round(), atol=1e-6) and torch.allclose(h, h.round(), atol=1e-6)
    assert torch.allclose(box, box.round(), atol=1e-6)  # whole-pixel crops, as kornia's
    # Sizes are rounded to whole pixels: the area and ratio ranges hold to half a pixel a side.
    low, high = (0.7**0.5 * 64 - 0.5) ** 2, (0.9**0.5 * 64 + 0.5) ** 2
    assert (w * h).min() >= low and (w * h).max() <= high
    assert (w * h).min() < 0.72 * 64**2 and (w * h).max() > 0.88 * 64**2
    assert (w / h).min() >= 3 / 4 * 63 / 64 and (w / h).max() <= 4 / 3 * 64 / 63
    assert box[..., 0].min() >= 0 and box[..., 0].max() <= 63 + 1e-6


def _kornias_views(seed, count, height, width, size, distortion, crop_scale, ratio):
    """The same views drawn by kornia's own generators (float64, the global generator seeded)."""
    f64 = torch.float64
    perspective = PerspectiveGenerator(torch.tensor(distortion, dtype=f64))
    crop = ResizedCropGenerator(size, torch.tensor(crop_scale, dtype=f64),
                                torch.tensor(ratio, dtype=f64))
    for generator in (perspective, crop):
        generator.set_rng_device_and_dtype(torch.device("cpu"), f64)
    state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        moved = perspective((count, 3, height, width))
        box = crop((count, 3, height, width))
    finally:
        torch.set_rng_state(state)
    return (get_perspective_transform(box["src"], box["dst"])
            @ get_perspective_transform(moved["start_points"], moved["end_points"]))


@pytest.mark.parametrize("seed, count, height, width, size, distortion, crop_scale, ratio", [
    (0, 6, 224, 224, (32, 32), 0.5, (0.7, 0.9), (3 / 4, 4 / 3)),
    (3, 5, 40, 90, (24, 30), 0.8, (0.5, 1.0), (3 / 4, 4 / 3)),
    (7, 8, 64, 48, (16, 16), 0.2, (0.95, 1.0), (2.0, 3.0)),  # ratio off the canvas's: fallback
])
def test_views_are_drawn_exactly_as_kornias_generators_draw_them(
    seed, count, height, width, size, distortion, crop_scale, ratio
):
    ours = sample_views(torch.Generator().manual_seed(seed), count, height, width, size,
                        distortion=distortion, crop_scale=crop_scale, ratio=ratio)
    kornias = _kornias_views(seed, count, height, width, size, distortion, crop_scale, ratio)
    assert torch.equal(ours, kornias)


def test_pixels_from_outside_the_canvas_are_white():
    black = torch.zeros(1, 3, 32, 32)
    views = sample_views(torch.Generator().manual_seed(3), 8, 32, 32, (32, 32), distortion=1.0,
                         crop_scale=(1.0, 1.0), ratio=(1.0, 1.0))
    out = augment(black, views, (32, 32), *NO_NORM)
    assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6
    assert (out[:, :, 0, 0] > 0.5).float().mean() > 0.5  # corners now lie outside the canvas
    assert (out[:, :, 16, 16] < 1e-6).all()  # the centre stays black


def test_normalisation_uses_the_models_mean_and_std():
    image = torch.full((1, 3, 8, 8), 0.5)
    views = sample_views(torch.Generator().manual_seed(0), 1, 8, 8, (4, 4), distortion=0.0)
    out = augment(image, views, (4, 4), (0.5, 0.25, 0.0), (1.0, 0.5, 2.0))
    assert torch.allclose(out[0, :, 1, 1], torch.tensor([0.0, 0.5, 0.25]), atol=1e-6)


def test_views_depend_only_on_the_drawings_generator():
    a = sample_views(torch.Generator().manual_seed(5), 4, 40, 40, (32, 32))
    b = sample_views(torch.Generator().manual_seed(5), 4, 40, 40, (32, 32))
    torch.manual_seed(123)  # the global generator plays no part
    c = sample_views(torch.Generator().manual_seed(5), 4, 40, 40, (32, 32))
    assert torch.equal(a, b) and torch.equal(a, c)


def test_one_batched_call_equals_one_call_per_canvas():
    images = torch.rand(3, 3, 40, 40)
    views = torch.cat([sample_views(torch.Generator().manual_seed(s), 2, 40, 40, (32, 32))
                       for s in range(3)])
    batched = augment(images, views, (32, 32), *NO_NORM)
    single = torch.cat([augment(images[i : i + 1], views[2 * i : 2 * i + 2], (32, 32), *NO_NORM)
                        for i in range(3)])
    assert batched.shape == (6, 3, 32, 32)
    assert torch.allclose(batched, single, atol=1e-6)


def test_gradients_reach_the_canvas():
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    views = sample_views(torch.Generator().manual_seed(0), 3, 16, 16, (8, 8))
    augment(image, views, (8, 8), *NO_NORM).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_views_are_left_unnormalised_without_a_mean_and_std():
    image = torch.full((1, 3, 8, 8), 0.25)
    views = sample_views(torch.Generator().manual_seed(0), 1, 8, 8, (4, 4), distortion=0.0)
    assert torch.equal(augment(image, views, (4, 4)), augment(image, views, (4, 4), *NO_NORM))
    assert torch.allclose(augment(image, views, (4, 4)), torch.tensor(0.25))


# -- antialiased views ---------------------------------------------------------------------------
MODEL = (32, 32)


def _coverage(size, antialias, seed, views=4):
    """Fraction of a size x size canvas's pixels whose gradient from the sum of its views is
    non-zero."""
    canvas = torch.rand(1, 3, size, size, requires_grad=True)
    homographies = sample_views(torch.Generator().manual_seed(seed), views, size, size, MODEL)
    augment(canvas, homographies, MODEL, antialias=antialias).sum().backward()
    return float((canvas.grad.abs().sum(1) > 0).float().mean())


def _supersampled(image, views, size, n):
    """Reference views: each warped to an n-times finer grid by one bilinear sample per fine
    pixel, then averaged over n x n blocks (a box filter of one view pixel)."""
    fine = torch.tensor([[n, 0, (n - 1) / 2], [0, n, (n - 1) / 2], [0, 0, 1]], dtype=views.dtype)
    warped = augment(image, fine @ views, (size[0] * n, size[1] * n))
    return torch.nn.functional.avg_pool2d(warped, n)


@pytest.mark.parametrize("size", [32, 40])
def test_antialiasing_leaves_views_of_a_canvas_near_the_models_size_bit_for_bit(size):
    image = torch.rand(2, 3, size, size)
    views = sample_views(torch.Generator().manual_seed(4), 6, size, size, MODEL)
    plain = augment(image, views, MODEL, *NO_NORM)
    assert torch.equal(augment(image, views, MODEL, *NO_NORM, antialias=True), plain)


@pytest.mark.parametrize("size", [64, 128, 146])
def test_four_antialiased_views_reach_nearly_every_pixel_of_a_large_canvas(size):
    after = [_coverage(size, True, seed) for seed in range(3)]
    assert min(after) >= 0.95
    if size == 146:  # 4.6 x the model's side, as 1024 px canvases are for a 224 px model
        assert max(_coverage(size, False, seed) for seed in range(3)) < 0.5


def test_antialiased_views_of_one_pixel_stripes_are_grey_as_a_supersampled_warp_sees_them():
    canvas = torch.zeros(1, 3, 146, 146)
    canvas[..., ::2] = 1
    views = sample_views(torch.Generator().manual_seed(6), 4, 146, 146, MODEL)
    reference = _supersampled(canvas, views, MODEL, 8)
    plain = augment(canvas, views, MODEL)
    smooth = augment(canvas, views, MODEL, antialias=True)
    assert (smooth - reference).abs().mean() < 0.05
    assert (plain - reference).abs().mean() > 0.1  # the unfiltered warp aliases


def test_the_averaged_canvas_keeps_the_canvas_geometry():
    # Averages of a linear ramp are the ramp at the blocks' centres, so the prefiltered views of
    # a ramp are the plain views wherever both sample inside the canvas.
    height, width = 150, 133  # factors (5, 4); partial blocks at the bottom and right
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                          torch.arange(width, dtype=torch.float64), indexing="ij")
    ramp = torch.stack([x / width, y / height, (x + y) / (width + height)])[None]
    views = sample_views(torch.Generator().manual_seed(8), 6, height, width, MODEL)
    plain = augment(ramp, views, MODEL)
    smooth = augment(ramp, views, MODEL, antialias=True)
    grid = torch.stack(torch.meshgrid(torch.arange(MODEL[0], dtype=torch.float64),
                                      torch.arange(MODEL[1], dtype=torch.float64),
                                      indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    source = _apply(torch.linalg.inv(views), grid)  # (V, h * w, 2) canvas points
    inside = ((source[..., 0] > 5) & (source[..., 0] < width - 10)
              & (source[..., 1] > 5) & (source[..., 1] < height - 10)).view(-1, 1, *MODEL)
    assert inside.float().mean() > 0.5
    difference = (smooth - plain).abs().amax(1, keepdim=True)
    assert difference[inside].max() < 1e-9


@pytest.mark.parametrize("antialias", [None, False])
def test_a_drawings_views_are_antialiased_unless_its_settings_say_not(tiny_clip, antialias):
    from helpers import tiny_settings

    from clipdraw.initialise import random_scene
    from clipdraw.objectives import build_objectives
    from clipdraw.optimise import Optimisation

    settings = tiny_settings("tiny", width=146, height=146, view_antialias=antialias).resolved()
    generator = torch.Generator().manual_seed(0)
    optimisation = Optimisation(random_scene(settings, generator), [settings],
                                [build_objectives(settings)], [tiny_clip], [generator])
    canvas = torch.rand(1, 3, 146, 146)
    views = sample_views(torch.Generator().manual_seed(1), 2, 146, 146, MODEL)
    expected = augment(canvas, views, MODEL, tiny_clip.mean, tiny_clip.std,
                       antialias=antialias is None)
    assert torch.equal(optimisation.augment(canvas, tiny_clip, views), expected)
