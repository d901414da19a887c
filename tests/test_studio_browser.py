"""The studio end to end in a real browser: headless Chromium from Debian driven by Playwright,
against a studio served by uvicorn with the tiny model (skipped without chromium or playwright)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UPLOAD_LIMIT = 64 * 1024
TIMEOUT_MS = 180_000

if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip("chromium is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from clipdraw.studio import StudioConfig  # noqa: E402
from clipdraw.studio.serve import serve_in_thread  # noqa: E402


@pytest.fixture(scope="module")
def studio_url(tiny_clip_config, tmp_path_factory):
    """A studio on a free loopback port, in a thread of this process."""
    config = StudioConfig(folder=tmp_path_factory.mktemp("browser_session"),
                          models=(str(tiny_clip_config),), pretrained=None, device="cpu",
                          max_upload_bytes=UPLOAD_LIMIT)
    with serve_in_thread(config) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")), executable_path=executable,
            headless=True, args=LAUNCH_FLAGS, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, studio_url):
    page = browser_context.new_page()
    yield page
    page.close()


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")


def fill_fast_settings(page, iterations: int) -> None:
    page.fill("#opt-size", "16")
    page.fill("#opt-paths", "4")
    page.fill("#opt-iterations", str(iterations))
    page.click("#more summary")
    page.fill("#opt-num_augs", "1")


def png_file(folder: Path, name: str, colour: str, size: int = 24) -> Path:
    from PIL import Image

    path = folder / name
    Image.new("RGB", (size, size), colour).save(path)
    return path


def test_start_shows_successive_frames_then_stop_and_the_svg_download_renders(
        page, studio_url, tmp_path):
    from svg_oracles import render_resvg

    from clipdraw import render
    from clipdraw.svg import load_svg

    open_page(page, studio_url)
    page.fill("#opt-prompts", "a red circle")
    fill_fast_settings(page, iterations=90)  # under 100 steps: no renderer compile to wait for
    page.click("#start")
    frames: list[str] = []
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(frames) < 3:
        assert time.monotonic() < deadline, f"only {len(frames)} frames"
        svg = page.inner_html("#canvas")
        if svg and (not frames or svg != frames[-1]):
            frames.append(svg)
        time.sleep(0.02)
    assert all("<path" in frame for frame in frames)
    page.click("#stop")
    page.wait_for_function("document.querySelector('#stat-status').textContent === 'stopped'")
    steps = int(page.inner_text("#stat-step").split("/")[0])
    assert 3 <= steps < 90
    assert page.get_attribute("#plot-line", "points").count(",") >= 2
    assert page.is_enabled("#resume")

    with page.expect_download() as download:
        page.click("#download-svg")
    path = tmp_path / "drawing.svg"
    download.value.save_as(path)
    scene = load_svg(path)
    assert (scene.width, scene.height, scene.num_paths) == (16, 16, 4)
    ours = render(scene)[0]
    theirs = render_resvg(path.read_text(), 16, 16)
    assert float(ours[3].min()) == 1.0 and np.asarray(theirs)[..., 3].min() == 1.0
    assert np.abs(np.asarray(theirs)[..., :3] - np.asarray(theirs)[..., :3].mean()).max() > 0.05
    assert page.locator("#gallery .card").count() >= 1


def test_clip_page_shows_a_prompts_by_images_table(page, studio_url, tmp_path):
    open_page(page, studio_url + "/clip")
    assert page.is_visible("#clip-run") and not page.is_visible("#start")
    page.fill("#clip-prompts", "a red square\na green square")
    files = [png_file(tmp_path, f"{c}.png", c) for c in ("red", "green", "blue")]
    page.set_input_files("#clip-files", [str(f) for f in files])
    page.wait_for_function("document.querySelectorAll('#clip-images input:checked').length === 3")
    page.click("#clip-run")
    page.wait_for_selector("#clip-table td")
    rows = page.locator("#clip-table tr")
    assert rows.count() == 1 + 2
    assert page.locator("#clip-table tr:first-child th img").count() == 3
    assert page.locator("#clip-table td").count() == 2 * 3
    assert page.locator("#clip-table td.best").count() == 3  # one best prompt per image
    values = [float(t) for t in page.locator("#clip-table td").all_inner_texts()]
    assert all(-1 <= v <= 1 for v in values)
    assert page.locator("#clip-embeddings canvas").count() == 2 + 3


def test_a_shared_link_with_autostart_starts_a_drawing(page, studio_url):
    open_page(page, studio_url + "/?prompt=a+blue+line&seed=3&size=16&paths=3&iterations=2"
                                 "&num_augs=1&autostart=1")
    assert page.input_value("#opt-prompts") == "a blue line"
    assert page.input_value("#opt-seed") == "3"
    page.wait_for_function("document.querySelector('#stat-status').textContent === 'done'")
    assert page.inner_text("#stat-step") == "2 / 2"
    drawings = page.request.get(studio_url + "/api/drawings").json()["drawings"]
    assert drawings[0]["request"]["seed"] == "3" and drawings[0]["request"]["prompts"] == [
        "a blue line"]
    page.click("#share")
    link = page.input_value("#share-link")
    assert "prompt=a+blue+line" in link and "seed=3" in link and "autostart=1" in link


def test_an_oversized_upload_shows_the_error_and_the_server_keeps_serving(
        page, studio_url, tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    noise = Image.frombytes("RGB", (256, 256), bytes(np.random.default_rng(0).integers(
        0, 256, 256 * 256 * 3, dtype=np.uint8)))
    noise.save(big)
    assert big.stat().st_size > UPLOAD_LIMIT
    open_page(page, studio_url)
    page.set_input_files("#opt-image_prompt", str(big))
    page.wait_for_selector("#message.error")
    assert "upload limit of 64 KiB" in page.inner_text("#message")
    assert page.request.get(studio_url + "/api/status").ok
    open_page(page, studio_url)
    page.set_input_files("#opt-image_prompt", str(png_file(tmp_path, "small.png", "red")))
    page.wait_for_function("document.querySelector('#upload-image_prompt').textContent"
                           ".includes('small.png')")

