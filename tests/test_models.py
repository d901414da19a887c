"""load_clip: every way of getting a model, frozen, through open_clip's own factory; weights read
without running code; shipped models by short name; one clear error when a model cannot be had."""

import collections
import json

import open_clip
import pytest
import torch
from helpers import TINY_CLIP_CONFIG, write_tiny_config

import clipdraw.models as models
from clipdraw.models import (
    ModelLoadError,
    PrunedTokenizer,
    check_model_spec,
    load_clip,
    read_state_dict,
    resolve_device,
    save_model,
    shipped_models,
)

PROMPTS = ["a red circle", "a blue square above a green ring"]


def _perturbed_state(model):
    """The model's weights, all shifted, so a load that silently fails is noticed."""
    return {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}


def _trained_like(tiny_clip):
    """A tiny open_clip model whose weights differ from the random ones a config gives."""
    model = open_clip.CLIP(**TINY_CLIP_CONFIG)
    model.load_state_dict(_perturbed_state(tiny_clip.model))
    return model.eval()


# -- hostile and broken weight files ---------------------------------------------------------


class _Payload:
    """Pickles as a call that writes ``marker``: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


class _TypeErrorFirst:
    """Pickles as a tensor whose legacy state makes torch's safe unpickler raise TypeError (the
    full unpickler accepts it): what makes open_clip retry without ``weights_only``."""

    def __reduce__(self):
        return (torch.Tensor, (), (False, None, collections.OrderedDict()))


def _evil_checkpoint(path, marker, type_error_first=False):
    state = {"visual.proj": torch.zeros(1), "payload": _Payload(marker)}
    if type_error_first:
        state = {"early": _TypeErrorFirst(), **state}
    torch.save(state, path)
    return path


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_none(tmp_path, tiny_clip_config):
    marker = tmp_path / "ran"
    evil = _evil_checkpoint(tmp_path / "evil.pt", marker)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG}))
    _evil_checkpoint(folder / "open_clip_pytorch_model.bin", marker)
    attempts = [
        lambda: load_clip(str(tiny_clip_config), None, weights_file=evil),  # --clip-weights
        lambda: load_clip("ViT-B-32", str(evil)),  # --pretrained FILE
        lambda: load_clip(f"local-dir:{folder}"),  # the folder's own weights
    ]
    for attempt in attempts:
        with pytest.raises(ModelLoadError, match="never runs code from a file") as caught:
            attempt()
        assert "Unsupported global: GLOBAL exec" in str(caught.value)
        assert "\n" not in str(caught.value) and caught.value.__suppress_context__
    assert not marker.exists()


def test_a_checkpoint_raising_type_error_first_cannot_force_an_unsafe_retry(
    tmp_path, monkeypatch, tiny_clip_config
):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "ran"
    evil = _evil_checkpoint(tmp_path / "evil.pt", marker, type_error_first=True)
    with pytest.raises(ModelLoadError, match="evil.pt is not plain weights .*set_"):
        load_clip(str(tiny_clip_config), None, weights_file=evil)
    assert not marker.exists()
    # The file is truly hostile: open_clip's own loader retries unsafely and runs it.
    from open_clip.factory import load_state_dict

    with pytest.warns(UserWarning):
        load_state_dict(str(evil))
    assert marker.read_text() == "ran"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "is not a weights file"),
        (b"", "is not a weights file"),
        (b"garbage " * 20, "is not a weights file"),
        (b"PK\x03\x04" + bytes(40), "is not plain weights"),
        (b"\x80\x02" + bytes(10), "is not plain weights"),
        ((1 << 40).to_bytes(8, "little") + b'{"a": 1}', "cannot read weights file"),
    ],
    ids=["png", "empty", "text", "truncated-zip", "truncated-pickle", "lying-safetensors"],
)
def test_a_file_that_is_no_checkpoint_gives_one_clean_error(tmp_path, tiny_clip_config, content,
                                                            message):
    path = tmp_path / "notimage.png"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message) as caught:
        load_clip(str(tiny_clip_config), None, weights_file=path)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_a_checkpoint_without_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ModelLoadError, match="no state dict"):
        read_state_dict(path)


def test_training_checkpoints_are_unwrapped(tmp_path):
    path = tmp_path / "epoch_3.pt"
    torch.save({"epoch": 3, "state_dict": {"module.logit_scale": torch.ones(())}}, path)
    assert list(read_state_dict(path)) == ["logit_scale"]


# -- specs -------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_clip_weights_file_is_loaded_into_the_model(tmp_path, tiny_clip_config, tiny_clip, suffix):
    from safetensors.torch import save_file

    weights = tmp_path / f"weights{suffix}"
    expected = _perturbed_state(tiny_clip.model)
    if suffix == ".pt":
        torch.save(expected, weights)
    else:
        save_file({k: v.contiguous() for k, v in expected.items()}, str(weights))
    loaded = load_clip(str(tiny_clip_config), None, weights_file=weights)
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_configs_are_registered_with_open_clip_under_a_namespaced_name(tmp_path):
    path = write_tiny_config(tmp_path, name="ViT-B-32.json")
    model = load_clip(str(path), None)
    names = [n for n in open_clip.list_models() if n.startswith("clipdraw-ViT-B-32-")]
    assert len(names) == 1 and model.model.visual.image_size == (32, 32)
    assert open_clip.get_model_config(names[0]) == TINY_CLIP_CONFIG
    assert open_clip.get_model_config("ViT-B-32")["embed_dim"] == 512  # the built-in is intact


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
    with pytest.raises(ModelLoadError, match="Did you mean shapes"):
        check_model_spec("shape")


def test_unavailable_weights_give_one_error_that_says_how_to_fix_it():
    # tests run with HF_HUB_OFFLINE=1: the download cannot happen
    with pytest.raises(ModelLoadError) as caught:
        load_clip("ViT-B-32", "openai")
    message = str(caught.value)
    assert "--clip-weights" in message and "cache" in message and "HF_HUB_OFFLINE" in message
    assert "\n" not in message and len(message) < 500
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_judge_model_without_weights_is_found_out_before_loading(tiny_clip_config):
    check_model_spec("ViT-B-32", "openai")  # the spec itself is fine
    with pytest.raises(ModelLoadError, match="not in the cache"):
        check_model_spec("ViT-B-32", "openai", check_download=True)
    check_model_spec(str(tiny_clip_config), "openai", check_download=True)


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
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    probed = []
    monkeypatch.setattr(models, "_reachable", lambda url, timeout=3.0: probed.append(url))
    with pytest.raises(ModelLoadError, match="network cannot be reached") as caught:
        load_clip("ViT-B-32", "openai", cache_dir=str(tmp_path))
    assert probed == ["https://huggingface.co"] and "--clip-weights" in str(caught.value)
    with pytest.raises(ModelLoadError, match="network cannot be reached"):
        load_clip("hf-hub:org/repo")


def test_a_cached_hub_model_loads_without_asking_the_hub(monkeypatch, tmp_path, tiny_clip):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "_reachable", lambda url, timeout=3.0: pytest.fail("probed"))
    repo = tmp_path / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc")
    (repo / "snapshots" / "abc").mkdir(parents=True)
    _, weights = save_model(_trained_like(tiny_clip), TINY_CLIP_CONFIG,
                            repo / "snapshots" / "abc" / "open_clip_model", dtype=torch.float32)
    (repo / "snapshots" / "abc" / "open_clip_model.json").rename(
        repo / "snapshots" / "abc" / "open_clip_config.json")
    loaded = load_clip("hf-hub:org/tiny", cache_dir=str(tmp_path))
    assert torch.equal(loaded.model.text_projection, read_state_dict(weights)["text_projection"])


def test_cached_weights_of_a_tag_are_found_without_asking_the_hub(tmp_path):
    repo = tmp_path / "models--timm--vit_base_patch32_clip_224.openai"
    snapshot = repo / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc")
    tag = open_clip.get_pretrained_cfg("ViT-B-32", "openai")
    assert models._cached_weights(tag, str(tmp_path)) == snapshot / "open_clip_model.safetensors"
    assert models._cached_weights(tag, str(tmp_path / "empty")) is None
    source = models._resolve("ViT-B-32", "openai", None)
    assert source.quick_gelu is True  # OpenAI's weights were trained with QuickGELU
    assert source.preprocess["mean"][0] == pytest.approx(0.4815, abs=1e-4)


# -- pruned vocabularies and shipped models ----------------------------------------------------


def _vocab_of(texts):
    return torch.unique(open_clip.SimpleTokenizer()(texts)).tolist()


def test_a_pruned_token_table_gives_the_full_models_embeddings(tmp_path, tiny_clip):
    full = _trained_like(tiny_clip)
    config, weights = save_model(full, TINY_CLIP_CONFIG, tmp_path / "tiny",
                                 vocab=_vocab_of(PROMPTS), dtype=torch.float32)
    pruned = load_clip(str(config))  # the weights beside the config are found
    assert pruned.model.token_embedding.weight.shape[0] == len(_vocab_of(PROMPTS)) < 20
    reference = torch.nn.functional.normalize(
        full.encode_text(open_clip.SimpleTokenizer()(PROMPTS)), dim=-1)
    assert torch.allclose(pruned.encode_text(PROMPTS), reference, atol=1e-6)
    images = torch.rand(2, 3, 32, 32)
    assert torch.allclose(pruned.encode_image(images),
                          torch.nn.functional.normalize(full.encode_image(images), dim=-1),
                          atol=1e-6)
    # A word the model was not given is dropped, as if not written.
    assert torch.allclose(pruned.encode_text(["a red zebra circle"]), reference[:1], atol=1e-6)
    assert pruned.tokenizer.unknown_words("a Red zebra, circle") == ["zebra,"]


def test_shipped_weights_are_half_precision_and_still_agree(tmp_path, tiny_clip):
    full = _trained_like(tiny_clip)
    config, weights = save_model(full, TINY_CLIP_CONFIG, tmp_path / "tiny",
                                 vocab=_vocab_of(PROMPTS))
    assert all(v.dtype in (torch.float16, torch.int64) for v in read_state_dict(weights).values())
    assert weights.stat().st_mode == config.stat().st_mode  # readable once installed
    pruned = load_clip(str(config))
    reference = torch.nn.functional.normalize(
        full.encode_text(open_clip.SimpleTokenizer()(PROMPTS)), dim=-1)
    assert torch.allclose(pruned.encode_text(PROMPTS), reference, atol=2e-3)
    assert pruned.model.token_embedding.weight.dtype == torch.float32


def test_a_shipped_model_loads_by_its_short_name_offline(tmp_path, monkeypatch, tiny_clip):
    monkeypatch.setattr(models, "SHIPPED_FOLDER", tmp_path)
    assert not shipped_models()["shapes"].available
    with pytest.raises(ModelLoadError, match="'shapes' is not in this installation"):
        check_model_spec("shapes")
    full = _trained_like(tiny_clip)
    save_model(full, TINY_CLIP_CONFIG, tmp_path / "shapes", vocab=_vocab_of(PROMPTS),
               preprocess_cfg={"mean": [0.5] * 3, "std": [0.5] * 3})
    assert shipped_models()["shapes"].available
    model = load_clip("shapes", "openai")  # a tag is ignored, as for open_clip's schemas
    assert model.mean == (0.5, 0.5, 0.5) and model.name == "shapes"
    expected = full.token_embedding.weight[torch.tensor(_vocab_of(PROMPTS))].half().float()
    assert torch.equal(model.model.token_embedding.weight, expected)


@pytest.mark.parametrize(
    ("vocab", "message"),
    [([0, 5, 3], "ascending"), ([1, 2, 3], "start with 0"), ([0, 1], "vocab_size must equal"),
     ("0 1 2", "ascending")],
)
def test_a_bad_vocab_sidecar_is_refused_before_loading(tmp_path, vocab, message):
    config = json.loads(json.dumps(TINY_CLIP_CONFIG))
    config["text_cfg"]["vocab_size"] = 3
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"model_cfg": config, "clipdraw": {"vocab": vocab}}))
    with pytest.raises(ModelLoadError, match=message):
        check_model_spec(str(path))


def test_a_pruned_tokenizer_needs_padding_and_the_start_and_end_tokens():
    tokenizer = open_clip.SimpleTokenizer()
    with pytest.raises(ValueError, match="start and end"):
        PrunedTokenizer(tokenizer, [0, 320])
