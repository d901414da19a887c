"""Test set-up: never touch the network; keep torch small and deterministic on 2 cores."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("CLIPDRAW_OFFLINE", "1")
