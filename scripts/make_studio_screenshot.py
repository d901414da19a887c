"""Take the README's screenshot of ``clipdraw studio`` from a real run (assets/studio.png).

Serves the studio on a free loopback port, drives headless Chromium with Playwright through the
page as a person would (a first small drawing for the gallery, then a prompt typed and Start
pressed), and captures the page while the second drawing grows. Offline, the model is the shipped
``shapes`` model when its files are present, else a tiny randomly initialised CLIP (the drawing
then shows the app working, not what a trained CLIP draws); ``--model`` picks another.

    python scripts/make_studio_screenshot.py [--model SPEC] [--out assets/studio.png]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

#: A small random CLIP (as in the tests): fast on a CPU, no download.
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
CHROMIUM = "/usr/bin/chromium"
LAUNCH_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def default_model(folder: Path) -> tuple[str, str | None, str]:
    """``(spec, pretrained, words for the caption)``."""
    from clipdraw.models import shipped_models

    shapes = shipped_models().get("shapes")
    if shapes is not None and shapes.available:
        return "shapes", None, "the shipped 'shapes' model"
    path = folder / "tiny_clip.json"
    path.write_text(json.dumps(TINY_CLIP_CONFIG))
    return str(path), None, "a tiny random CLIP"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="CLIP model spec (default: shapes, else a tiny random)")
    parser.add_argument("--pretrained", default=None)
    parser.add_argument("--out", type=Path, default=Path("assets/studio.png"))
    parser.add_argument("--steps", type=int, default=30, help="steps to wait for before the shot")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from clipdraw.studio import StudioConfig
    from clipdraw.studio.serve import serve_in_thread

    work = Path(tempfile.mkdtemp(prefix="studio_shot_"))
    spec, pretrained, words = (args.model, args.pretrained, args.model) if args.model else \
        default_model(work)
    config = StudioConfig(folder=work / "session", models=(spec,), pretrained=pretrained,
                          device="cpu")
    with serve_in_thread(config) as url, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(work / "profile"), executable_path=CHROMIUM, headless=True,
            args=LAUNCH_FLAGS, viewport={"width": 1100, "height": 860})
        context.set_default_timeout(600_000)
        page = context.new_page()
        page.goto(url + "/?prompt=a+blue+square&size=64&paths=12&iterations=6&num_augs=2"
                        "&autostart=1")
        page.wait_for_function(
            "document.querySelector('#stat-status').textContent === 'done'")
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#opt-prompts", "a red circle\na yellow star::0.5")
        page.fill("#opt-size", "96")
        page.fill("#opt-paths", "24")
        page.fill("#opt-iterations", "90")
        page.fill("#opt-seed", "3")
        page.click("#start")
        page.wait_for_function(
            f"parseInt(document.querySelector('#stat-step').textContent) >= {args.steps}")
        page.evaluate("window.scrollTo(0, 0)")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        page.click("#stop")
        context.close()
    print(f"wrote {args.out} (model: {words})")


if __name__ == "__main__":
    main()
