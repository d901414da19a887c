"""load_clip: every way of getting a model, frozen, and one clear error when it cannot be had."""

import json

import pytest
import torch
from helpers import TINY_CLIP_CONFIG, write_tiny_config

from clipdraw.models import ModelLoadError, check_model_spec, load_clip, resolve_device


def _perturbed_state(model):
    """The model's weights, all shifted, so a load that silently fails is noticed."""
    return {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}


def test_a_config_json_builds_a_frozen_model_in_eval_mode(tiny_clip):
    assert not tiny_clip.model.training
    assert not any(p.requires_grad for p in tiny_clip.model.parameters())
    assert tiny_clip.image_size == (32, 32)
    assert tiny_clip.encode_text(["a", "b c"]).shape == (2, 32)
    assert torch.allclose(tiny_clip.encode_text(["x"]).norm(dim=-1), torch.ones(1))


def test_random_weights_are_the_same_in_every_load(tiny_clip_config, tiny_clip):
    again = load_clip(str(tiny_clip_config), None)
    assert torch.equal(again.encode_text(["a cat"]), tiny_clip.encode_text(["a cat"]))


def test_image_gradients_flow_but_the_model_gets_none(tiny_clip):
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    tiny_clip.encode_image(tiny_clip.preprocess(images)).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_clip.model.parameters())


def test_clip_weights_file_is_loaded_into_the_model(tmp_path, tiny_clip_config, tiny_clip):
    weights = tmp_path / "weights.pt"
    torch.save(_perturbed_state(tiny_clip.model), weights)
    loaded = load_clip(str(tiny_clip_config), None, weights_file=weights)
    expected = _perturbed_state(tiny_clip.model)
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_a_config_in_open_clips_own_format_works(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG,
                                "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.25] * 3}}))
    model = load_clip(str(path), None)
    assert model.mean == (0.5, 0.5, 0.5) and model.std == (0.25, 0.25, 0.25)


def test_local_dir_loads_open_clip_config_and_weights(tmp_path, tiny_clip):
    from safetensors.torch import save_file

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG}))
    state = {k: v.contiguous() for k, v in _perturbed_state(tiny_clip.model).items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    for spec in (f"local-dir:{folder}", str(folder)):
        loaded = load_clip(spec)
        assert torch.equal(loaded.model.state_dict()["text_projection"],
                           state["text_projection"])


def test_built_in_names_accept_none_for_random_weights_and_check_tags():
    check_model_spec("ViT-B-32", "none")
    with pytest.raises(ModelLoadError, match="known tags: openai"):
        check_model_spec("ViT-B-32", "not-a-tag")


def test_an_unknown_model_name_suggests_close_names():
    with pytest.raises(ModelLoadError, match="Did you mean ViT-B-32"):
        load_clip("ViT-B-33")


def test_unavailable_weights_give_one_error_that_says_how_to_fix_it():
    # tests run with HF_HUB_OFFLINE=1: the download cannot happen
    with pytest.raises(ModelLoadError) as caught:
        load_clip("ViT-B-32", "openai")
    message = str(caught.value)
    assert "--clip-weights" in message and "cache" in message
    assert "\n" not in message and len(message) < 500
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_weights_of_another_architecture_are_refused_clearly(tmp_path, tiny_clip_config):
    other = load_clip(str(write_tiny_config(tmp_path, embed_dim=16)), None)
    weights = tmp_path / "other.pt"
    torch.save(other.model.state_dict(), weights)
    with pytest.raises(ModelLoadError, match="names the architecture"):
        load_clip(str(tiny_clip_config), None, weights_file=weights)


@pytest.mark.parametrize(
    ("spec", "weights", "message"),
    [
        ("missing.json", None, "not found"),
        ("local-dir:/nowhere", None, "open_clip_config.json"),
        ("", None, "empty"),
        ("ViT-B-32", "/no/such/file.pt", "weights file not found"),
    ],
)
def test_bad_specs_are_refused_before_anything_is_built(spec, weights, message):
    with pytest.raises(ModelLoadError, match=message):
        check_model_spec(spec, "openai", weights)


def test_a_json_file_that_is_no_model_config_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(ModelLoadError, match="not an open_clip model config"):
        load_clip(str(path))


def test_auto_device_falls_back_to_a_usable_device():
    device = resolve_device("auto")
    torch.zeros(1, device=device)
    assert resolve_device("cpu") == torch.device("cpu")


def test_without_a_network_a_missing_download_fails_at_once(monkeypatch, tmp_path):
    import clipdraw.models as models

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    probed = []
    monkeypatch.setattr(models, "_reachable", lambda url, timeout=3.0: probed.append(url))
    with pytest.raises(ModelLoadError, match="network cannot be reached") as caught:
        load_clip("ViT-B-32", "openai", cache_dir=str(tmp_path))
    assert probed == ["https://huggingface.co"] and "--clip-weights" in str(caught.value)
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE=1"):
        load_clip("hf-hub:org/repo")


def test_cached_weights_of_a_tag_are_used_without_asking_the_hub(tmp_path):
    from clipdraw.models import _open_clip_arguments

    snapshot = tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    (tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "refs").mkdir()
    (tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "refs" / "main").write_text(
        "abc")
    name, source, kwargs = _open_clip_arguments("ViT-B-32", "openai", None, str(tmp_path))
    assert name == "ViT-B-32" and source == str(snapshot / "open_clip_model.safetensors")
    assert kwargs["force_quick_gelu"] is True  # OpenAI's weights were trained with QuickGELU
    assert kwargs["force_preprocess_cfg"]["mean"][0] == pytest.approx(0.4815, abs=1e-4)
    empty = tmp_path / "empty"
    assert _open_clip_arguments("ViT-B-32", "openai", None, str(empty))[1] == "openai"
