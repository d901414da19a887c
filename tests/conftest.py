"""Test set-up: never touch the network; keep torch small and deterministic on 2 cores."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


# -- drawing-pipeline fixtures (tests/helpers.py holds the tiny CLIP config) ---------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_clip_config(tmp_path_factory):
    """Path of a tiny open_clip model config JSON (random weights, fast on a CPU)."""
    from helpers import write_tiny_config

    return write_tiny_config(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_config):
    """The tiny model, loaded once per session (reuse it with ``clip_models=[tiny_clip]``)."""
    from clipdraw.models import load_clip

    return load_clip(str(tiny_clip_config), None, device="cpu")
