"""fusion: compiled kernels are cached where they survive reboots, unless the user says where."""

from __future__ import annotations

import os

import torch

from clipdraw.render import fusion


def test_compiled_kernels_are_cached_in_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "unset")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    expected = tmp_path / "clipdraw" / "torchinductor"
    assert fusion.compile_cache_dir() == expected
    fusion._compile(lambda x: x + 1)  # compiles lazily: nothing runs yet
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(expected)


def test_a_cache_folder_the_user_chose_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    fusion._compile(lambda x: x * 2)
    assert fusion.compile_cache_dir() == tmp_path / "mine"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")


def test_uncompiled_stages_are_the_functions_themselves():
    def add(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    assert fusion.fused(add, False) is add
