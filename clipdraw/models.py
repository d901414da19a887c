"""One function, :func:`load_clip`, hides every way of getting a frozen open_clip model.

Model specs:
    - a built-in open_clip name (``ViT-B-32``) with a pretrained tag (``openai``) or ``none``;
    - ``hf-hub:org/repo`` and ``local-dir:PATH`` (open_clip's own schemas, unchanged); a folder
      holding ``open_clip_config.json`` also works without the prefix;
    - a model config JSON file (``{"embed_dim", "vision_cfg", "text_cfg"}`` or open_clip's
      ``{"model_cfg": ..., "preprocess_cfg": ...}``) for custom or tiny architectures.

``weights_file`` (``--clip-weights``) loads a local checkpoint into any of them; with a built-in
name, the pretrained tag still says how those weights were trained (QuickGELU, mean/std).
Every failure becomes a :class:`ModelLoadError` whose message says how to fix it.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import io
import json
import logging
import os
import socket
import urllib.parse
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.tokenizer import HFTokenizer
from torch import Tensor

__all__ = ["ClipModel", "ModelLoadError", "check_model_spec", "load_clip", "resolve_device"]

_NO_WEIGHTS = ("", "none", "random")
_CACHE_HINT = (
    "Weights are cached in ~/.cache/huggingface (or $HF_HOME); run once with internet access, "
    "or download the checkpoint and pass --clip-weights FILE (with --model NAME)."
)


class ModelLoadError(ValueError):
    """A CLIP model could not be had; the message says how to fix it."""


@dataclass(eq=False)
class ClipModel:
    """A frozen open_clip model with its tokenizer and input normalisation.

    Args:
        model: the open_clip model, in eval mode, without gradients for its parameters.
        tokenizer: turns strings into token ids.
        image_size: input ``(h, w)``.
        mean, std: RGB normalisation of the model's inputs.
        name: the spec it was loaded from.
    """

    model: torch.nn.Module
    tokenizer: Any
    image_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> Tensor:
        """Unit-norm text embeddings.

        Shape:
            - Output: :math:`(T, D)`
        """
        tokens = self.tokenizer(list(texts)).to(self.device)
        return torch.nn.functional.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def encode_image(self, images: Tensor) -> Tensor:
        """Unit-norm embeddings of normalised images at :attr:`image_size` (differentiable in the
        images; the model itself gets no gradient).

        Shape:
            - images: :math:`(N, 3, h, w)`
            - Output: :math:`(N, D)`
        """
        weight = next(self.model.parameters())
        features = self.model.encode_image(images.to(device=weight.device, dtype=weight.dtype))
        return torch.nn.functional.normalize(features.float(), dim=-1)

    def preprocess(self, images: Tensor) -> Tensor:
        """Resize RGB images in [0, 1] to the input size (bicubic, antialiased) and normalise.

        Shape:
            - images: :math:`(N, 3, H, W)`
            - Output: :math:`(N, 3, h, w)`
        """
        resized = torch.nn.functional.interpolate(
            images, size=self.image_size, mode="bicubic", align_corners=False, antialias=True
        ).clamp(0, 1)
        mean = torch.as_tensor(self.mean, device=images.device, dtype=images.dtype)
        std = torch.as_tensor(self.std, device=images.device, dtype=images.dtype)
        return (resized - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then the CPU; other values pass through ``torch.device``."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _config_file(spec: str) -> dict[str, Any] | None:
    """The open_clip config in a JSON file ``spec``, or ``None`` when ``spec`` is not one."""
    path = Path(spec)
    if path.suffix.lower() != ".json":
        return None
    if not path.is_file():
        raise ModelLoadError(f"model config file not found: {spec}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot read model config {spec}: {error}") from None
    config = data.get("model_cfg", data) if isinstance(data, dict) else None
    if not isinstance(config, dict) or not {"embed_dim", "vision_cfg", "text_cfg"} <= set(config):
        raise ModelLoadError(
            f"{spec} is not an open_clip model config: it needs embed_dim, vision_cfg and text_cfg"
        )
    return {"model_cfg": config, "preprocess_cfg": data.get("preprocess_cfg", {})}


def _normalise_spec(spec: str) -> str:
    if ":" not in spec.split("/")[0] and Path(spec, "open_clip_config.json").is_file():
        return f"local-dir:{spec}"
    return spec


def check_model_spec(
    spec: str, pretrained: str | None = None, weights_file: str | None = None
) -> None:
    """Cheap checks (no download, no model built); raise :class:`ModelLoadError` on a bad spec."""
    if weights_file is not None and not Path(weights_file).is_file():
        raise ModelLoadError(f"CLIP weights file not found: {weights_file}")
    if not spec or not spec.strip():
        raise ModelLoadError("empty model name")
    if _config_file(spec) is not None:
        return
    spec = _normalise_spec(spec)
    if spec.startswith("local-dir:"):
        folder = Path(spec[len("local-dir:"):])
        if not (folder / "open_clip_config.json").is_file():
            raise ModelLoadError(f"{folder} does not hold an open_clip_config.json")
        return
    if spec.startswith("hf-hub:"):
        return
    name = spec.replace("/", "-")
    models = open_clip.list_models()
    if name not in models:
        close = difflib.get_close_matches(name, models, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(
            f"unknown CLIP model {spec!r}.{hint} See open_clip.list_models(), or pass a model "
            "config JSON file, hf-hub:org/repo or local-dir:PATH."
        )
    if weights_file is None and pretrained and pretrained.lower() not in _NO_WEIGHTS:
        if not open_clip.get_pretrained_cfg(name, pretrained) and not Path(pretrained).is_file():
            tags = open_clip.list_pretrained_tags_by_model(name)
            raise ModelLoadError(
                f"unknown pretrained tag {pretrained!r} for {name}; known tags: "
                f"{', '.join(tags) or 'none'} (or pass --clip-weights FILE, or --pretrained none "
                "for random weights)"
            )


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence open_clip's and huggingface_hub's logging and warnings while loading (our error
    says what went wrong)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds."""
    host = urllib.parse.urlsplit(url).hostname or url
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_weights(tag_cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """The local file of a pretrained tag's weights if a download already put it there."""
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        model_id, filename = os.path.split(hub)
        filename = filename or "open_clip_pytorch_model.bin"
        names = [filename[:-4] + ".safetensors"] if filename.endswith((".bin", ".pth")) else []
        if filename == "open_clip_pytorch_model.bin":
            names = ["open_clip_model.safetensors"]
        for name in [*names, filename]:
            found = try_to_load_from_cache(model_id, name, cache_dir=cache_dir)
            if isinstance(found, str) and os.path.isfile(found):
                return found
        return None
    url = tag_cfg.get("url", "")
    if url:
        local = Path(cache_dir or os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        return str(local) if local.is_file() else None
    return None


def _no_network_error(what: str) -> ModelLoadError:
    return ModelLoadError(
        f"cannot get {what}: the weights are not in the cache and the network cannot be reached. "
        + _CACHE_HINT
    )


def _build_from_config(config: dict[str, Any]) -> torch.nn.Module:
    model_cfg = copy.deepcopy(config["model_cfg"])
    custom_text = model_cfg.pop("custom_text", False) or "hf_model_name" in model_cfg["text_cfg"]
    if "multimodal_cfg" in model_cfg:
        model_class = open_clip.CoCa
    elif custom_text:
        model_class = open_clip.CustomTextCLIP
    else:
        model_class = open_clip.CLIP
    model = model_class(**model_cfg)
    preprocess = {"mean": OPENAI_DATASET_MEAN, "std": OPENAI_DATASET_STD}
    preprocess.update(config.get("preprocess_cfg") or {})
    open_clip.set_model_preprocess_cfg(model, preprocess)
    return model


def _tokenizer_for_config(config: dict[str, Any]) -> Any:
    text_cfg = config["model_cfg"]["text_cfg"]
    length = text_cfg.get("context_length", 77)
    if text_cfg.get("hf_tokenizer_name"):
        return HFTokenizer(text_cfg["hf_tokenizer_name"], context_length=length)
    return open_clip.SimpleTokenizer(context_length=length)


def _open_clip_arguments(
    spec: str, tag: str | None, weights: str | None, cache_dir: str | None
) -> tuple[str, str | None, dict[str, Any]]:
    """``(model_name, pretrained, extra kwargs)`` for ``open_clip.create_model``.

    A pretrained tag also says how its weights were trained (QuickGELU, mean/std), which still
    holds when the weights come from ``weights`` or from the download cache; a cached file is
    passed as a path, so no update check goes to the network.
    """
    if spec.startswith(("hf-hub:", "local-dir:")):
        return spec, None, {}
    name = spec.replace("/", "-")
    tag_cfg = open_clip.get_pretrained_cfg(name, tag) if tag else {}
    if not tag_cfg:
        return name, None if weights is not None else tag, {}
    kwargs: dict[str, Any] = {"force_quick_gelu": bool(tag_cfg.get("quick_gelu", False))}
    source = None if weights is not None else _cached_weights(tag_cfg, cache_dir) or tag
    if source != tag:
        kwargs["force_preprocess_cfg"] = {k: tag_cfg[k] for k in ("mean", "std") if k in tag_cfg}
    return name, source, kwargs


def _check_network(spec: str, tag: str | None, weights: str | None, cache_dir: str | None) -> None:
    """Fail at once (instead of a minute of retries) when a download is needed but the host
    cannot be reached."""
    if spec.startswith("hf-hub:"):
        if not _reachable("https://huggingface.co"):
            raise ModelLoadError(
                f"cannot get {spec}: huggingface.co cannot be reached (HF_HUB_OFFLINE=1 uses a "
                "cached copy). " + _CACHE_HINT
            )
        return
    if spec.startswith("local-dir:") or weights is not None or not tag:
        return
    tag_cfg = open_clip.get_pretrained_cfg(spec.replace("/", "-"), tag)
    if not tag_cfg or _cached_weights(tag_cfg, cache_dir) is not None:
        return
    url = "https://huggingface.co" if tag_cfg.get("hf_hub") else tag_cfg.get("url", "")
    if url and not _reachable(url):
        raise _no_network_error(f"CLIP weights {spec}/{tag}")


def load_clip(
    spec: str,
    pretrained: str | None = "openai",
    weights_file: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    *,
    cache_dir: str | None = None,
) -> ClipModel:
    """Load a frozen CLIP model in eval mode from any spec (see the module docstring).

    Args:
        spec: model name, ``hf-hub:``/``local-dir:`` spec, folder or config JSON file.
        pretrained: pretrained tag (or checkpoint path) for built-in names; ``None``/``"none"``
            gives random weights (seeded, so the same in every run). Ignored by the schemas, as
            in open_clip.
        weights_file: a local checkpoint (state dict, ``.safetensors`` or OpenAI JIT archive)
            loaded into the model.
        device: where the model lives.
        cache_dir: download cache (open_clip's default when ``None``).

    Raises:
        ModelLoadError: unknown model or tag, missing file, weights that cannot be downloaded
            or do not fit the architecture.
    """
    weights = None if weights_file is None else str(weights_file)
    check_model_spec(spec, pretrained, weights)
    device = resolve_device(device)
    tag = None if pretrained is None or pretrained.lower() in _NO_WEIGHTS else pretrained
    config = _config_file(spec)
    spec_n = _normalise_spec(spec)
    if config is None and not _offline():
        _check_network(spec_n, tag, weights, cache_dir)
    try:
        # Random initial weights come from a fixed seed, so a model without pretrained weights is
        # the same in every run (and the caller's random state is left alone).
        with _quiet(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            if config is not None:
                model = _build_from_config(config)
                tokenizer = _tokenizer_for_config(config)
            else:
                name, source, kwargs = _open_clip_arguments(spec_n, tag, weights, cache_dir)
                model = open_clip.create_model(
                    name, pretrained=source, cache_dir=cache_dir, **kwargs
                )
                tokenizer = open_clip.get_tokenizer(name, cache_dir=cache_dir)
            if weights is not None:
                open_clip.load_checkpoint(model, weights, strict=True)
    except Exception as error:  # open_clip raises RuntimeError, OSError, KeyError, ...
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        if weights is not None:
            raise ModelLoadError(
                f"cannot load CLIP weights {weights} into {spec}: {reason}. Check that --model "
                "names the architecture the checkpoint was trained with."
            ) from None
        raise ModelLoadError(
            f"cannot get CLIP model {spec}"
            + (f" with pretrained weights {tag!r}" if tag and config is None else "")
            + f": {reason}. {_CACHE_HINT}"
        ) from None
    model = model.to(device).eval().requires_grad_(False)
    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg.get("size", model.visual.image_size)
    size = (size, size) if isinstance(size, int) else tuple(size)
    return ClipModel(
        model=model,
        tokenizer=tokenizer,
        image_size=(int(size[0]), int(size[1])),
        mean=tuple(float(v) for v in cfg.get("mean", OPENAI_DATASET_MEAN)),
        std=tuple(float(v) for v in cfg.get("std", OPENAI_DATASET_STD)),
        name=str(spec),
    )
