"""One function, :func:`load_clip`, hides every way of getting a frozen open_clip model.

open_clip builds every model (``create_model``) and picks its tokenizer (``get_tokenizer``);
clipdraw adds only what open_clip lacks: model config files and shipped models registered with
``add_model_config``, a ``--clip-weights FILE``, weights read without running code, and one-line
errors that say how to fix them (:class:`ModelLoadError`).

Model specs:
    - a built-in open_clip name (``ViT-B-32``) with a pretrained tag (``openai``), a checkpoint
      file, or ``none`` for random weights (the same in every run);
    - ``hf-hub:org/repo`` and ``local-dir:PATH`` (open_clip's schemas); a folder holding
      ``open_clip_config.json`` also works without the prefix;
    - a model config JSON file, flat (``{"embed_dim", "vision_cfg", "text_cfg"}``) or in open_clip's
      ``{"model_cfg": ..., "preprocess_cfg": ...}`` form; weights are ``FILE.safetensors`` beside
      ``FILE.json`` when there is one, else random;
    - the short name of a model shipped with clipdraw (``shapes``): ``clipdraw/shipped/NAME.json``
      with ``NAME.safetensors`` beside it (see :data:`SHIPPED_MODELS`, :func:`shipped_models`).

Weights, wherever they come from, are read by :func:`read_state_dict`: a ``.safetensors`` file,
or a ``torch.save`` file through ``torch.load(weights_only=True)`` with no fallback, so no file
can run code. ``weights_file`` (``--clip-weights``) replaces a spec's own weights; with a built-in
name the pretrained tag still says how they were trained (QuickGELU, mean and std).

Pruned token embeddings:
    A config JSON may carry ``"clipdraw": {"vocab": [ids...]}``: the CLIP token ids (ascending,
    with 0 for padding and the start and end tokens) whose rows the token-embedding table keeps,
    row ``r`` holding token ``vocab[r]``, and ``text_cfg.vocab_size == len(vocab)``. Prompts are
    tokenised as usual and mapped to rows by :class:`PrunedTokenizer`; since ids keep their order,
    the end token stays the largest (CLIP pools text at the largest id). Words the model was not
    given are dropped, as if not written. :func:`save_model` writes this format.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import difflib
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import socket
import struct
import tempfile
import urllib.parse
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import Tensor

__all__ = [
    "SHIPPED_MODELS",
    "ClipModel",
    "ModelLoadError",
    "PrunedTokenizer",
    "ShippedModel",
    "check_model_spec",
    "load_clip",
    "read_state_dict",
    "resolve_device",
    "save_model",
    "shipped_models",
]

#: Models clipdraw ships, by short name: what each knows. Their files lie in :data:`SHIPPED_FOLDER`.
SHIPPED_MODELS: dict[str, str] = {
    "shapes": "a 64 px CLIP trained on synthetic coloured shapes (8 colours, 6 shapes), offline",
}
SHIPPED_FOLDER = Path(__file__).parent / "shipped"

_NO_WEIGHTS = ("", "none", "random")
_CACHE_HINT = (
    "Weights are cached in ~/.cache/huggingface (or $HF_HOME); run once with internet access, "
    "or download the checkpoint and pass --clip-weights FILE (with --model NAME)."
)
_SAFE_LOAD_HINT = "clipdraw never runs code from a file; save a dict of tensors (safetensors)"


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
        """Unit-norm embeddings of images at :attr:`image_size`, normalised or not (see
        :meth:`preprocess`); differentiable in the images, the model itself gets no gradient.

        Shape:
            - images: :math:`(N, 3, h, w)`
            - Output: :math:`(N, D)`
        """
        weight = next(self.model.parameters())
        features = self.model.encode_image(images.to(device=weight.device, dtype=weight.dtype))
        return torch.nn.functional.normalize(features.float(), dim=-1)

    def preprocess(self, images: Tensor, *, normalize: bool = True) -> Tensor:
        """Resize RGB images in [0, 1] to the input size (bicubic, antialiased) and normalise
        them by :attr:`mean` and :attr:`std` (``normalize=False``: leave them in [0, 1], as the
        CLIPDraw notebook fed CLIP).

        Shape:
            - images: :math:`(N, 3, H, W)`
            - Output: :math:`(N, 3, h, w)`
        """
        resized = torch.nn.functional.interpolate(
            images, size=self.image_size, mode="bicubic", align_corners=False, antialias=True
        ).clamp(0, 1)
        if not normalize:
            return resized
        mean = torch.as_tensor(self.mean, device=images.device, dtype=images.dtype)
        std = torch.as_tensor(self.std, device=images.device, dtype=images.dtype)
        return (resized - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then the CPU; other values pass through ``torch.device``.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# -- tokens ------------------------------------------------------------------------------------


class PrunedTokenizer:
    """open_clip's tokenizer for a model whose token-embedding table keeps only ``vocab``'s rows.

    Args:
        tokenizer: open_clip's CLIP tokenizer (``SimpleTokenizer``).
        vocab: the kept token ids, ascending; row ``r`` of the table is token ``vocab[r]``. Must
            hold 0 (padding) and the start and end tokens.

    Convention:
        Ids keep their order, so the end token stays the largest row and CLIP's text pooling (at
        the largest id) is unchanged. Tokens not in ``vocab`` are dropped: the prompt reads as if
        the word were not there.

    Shape:
        - Output: :math:`(T, L)` rows of the pruned table, ``L`` the context length.

    Examples:
        >>> tokenizer = open_clip.SimpleTokenizer(context_length=6)
        >>> ids = tokenizer(["a red circle"])[0].tolist()
        >>> pruned = PrunedTokenizer(tokenizer, sorted(set(ids)))  # pad, a, red, circle, start, end
        >>> pruned(["a red circle", "a red zebra circle"]).tolist()
        [[4, 1, 2, 3, 5, 0], [4, 1, 2, 3, 5, 0]]
    """

    def __init__(self, tokenizer: Any, vocab: Sequence[int]) -> None:
        ids = torch.as_tensor(list(vocab), dtype=torch.long)
        needed = {0, int(tokenizer.sot_token_id), int(tokenizer.eot_token_id)}
        missing = needed - set(ids.tolist())
        if missing:
            raise ValueError(f"the vocab must keep padding (0) and the start and end tokens; "
                             f"missing {sorted(missing)}")
        self.tokenizer = tokenizer
        self.vocab = ids
        self.context_length = tokenizer.context_length
        self._rows = torch.full((int(ids.max()) + 1,), -1, dtype=torch.long)
        self._rows[ids] = torch.arange(len(ids))

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` that the model was not given (and that prompts therefore lose).

        Examples:
            >>> tokenizer = open_clip.SimpleTokenizer()
            >>> kept = sorted(set(tokenizer(["a red circle"])[0].tolist()))
            >>> pruned = PrunedTokenizer(tokenizer, kept)
            >>> pruned.unknown_words("a red zebra circle")
            ['zebra']
        """
        known = set(self.vocab.tolist())
        return [word for word in text.split()
                if any(i not in known for i in self.tokenizer.encode(word))]

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> Tensor:
        ids = self.tokenizer(texts, context_length or self.context_length)
        inside = ids < len(self._rows)
        rows = torch.where(inside, self._rows[ids.clamp_max(len(self._rows) - 1)], -1)
        # A stable sort moves dropped tokens to the end, keeping the others in order; they then
        # become padding (row 0).
        order = torch.argsort((rows < 0).to(torch.uint8), dim=1, stable=True)
        return rows.gather(1, order).clamp_min(0)


def _check_vocab(vocab: Any, text_cfg: Mapping[str, Any], where: str) -> tuple[int, ...]:
    valid = (isinstance(vocab, list) and vocab
             and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in vocab))
    if not valid or any(a >= b for a, b in zip(vocab, vocab[1:])):
        raise ModelLoadError(f"{where}: clipdraw.vocab must be a list of ascending token ids")
    if vocab[0] != 0:
        raise ModelLoadError(f"{where}: clipdraw.vocab must start with 0 (the padding token)")
    if text_cfg.get("vocab_size") != len(vocab):
        raise ModelLoadError(f"{where}: text_cfg.vocab_size must equal the length of "
                             f"clipdraw.vocab ({len(vocab)})")
    return tuple(vocab)


# -- weights -----------------------------------------------------------------------------------


def _weights_format(path: Path) -> str:
    """``"safetensors"`` or ``"torch"`` from a file's first bytes; a clear error otherwise."""
    try:
        with open(path, "rb") as file:
            head = file.read(9)
    except OSError as error:
        raise ModelLoadError(f"cannot read weights file {path}: {error.strerror}") from None
    if len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 0:
        return "safetensors"
    if head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"):
        return "torch"
    raise ModelLoadError(
        f"{path} is not a weights file: expected a .safetensors file or a torch.save checkpoint"
    )


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """The tensors of a weights file, read without running any code from it.

    A ``.safetensors`` file, or a ``torch.save`` checkpoint read with ``weights_only=True`` and no
    fallback (a checkpoint holding other Python objects is refused, never unpickled). A
    ``{"state_dict": ...}`` wrapper and DistributedDataParallel's ``module.`` prefix are removed.

    Raises:
        ModelLoadError: the file is missing, not a weights file, or holds more than tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"CLIP weights file not found: {path}")
    kind = _weights_format(path)
    if kind == "safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path), device="cpu")
        except Exception as error:  # noqa: BLE001 - any reader failure is a bad file
            raise ModelLoadError(f"cannot read weights file {path}: {_first_line(error)}") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - never retried without weights_only
            reason = str(error).partition("WeightsUnpickler error:")[2].strip() or str(error)
            reason = _first_line(Exception(re.sub(r"\x1b\[[0-9;]*m", "", reason).split(". ")[0]))
            raise ModelLoadError(
                f"{path} is not plain weights ({reason}): {_SAFE_LOAD_HINT}") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not state or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise ModelLoadError(f"{path} holds no state dict of named tensors")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def save_model(
    model: torch.nn.Module,
    model_cfg: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    vocab: Sequence[int] | None = None,
    preprocess_cfg: Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float16,
) -> tuple[Path, Path]:
    """Write an open_clip model as ``PATH.json`` + ``PATH.safetensors``, the format a model config
    spec (and a shipped model in ``clipdraw/shipped/``) is read from.

    Args:
        model: an open_clip ``CLIP`` built from ``model_cfg``.
        model_cfg: its open_clip model config.
        path: the files' path without suffix.
        vocab: token ids to keep in the token-embedding table (others are dropped from prompts);
            padding and the start and end tokens are always kept. ``None`` keeps the whole table.
        preprocess_cfg: open_clip's preprocessing (``mean``, ``std``); the model's own by default.
        dtype: floating-point weights are stored in this type.

    Returns:
        The config and weights paths.
    """
    from safetensors.torch import save_file

    config = copy.deepcopy(dict(model_cfg))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    document: dict[str, Any] = {}
    if vocab is not None:
        tokenizer = open_clip.SimpleTokenizer()
        kept = sorted({0, tokenizer.sot_token_id, tokenizer.eot_token_id, *map(int, vocab)})
        (key,) = [k for k in state if k.endswith("token_embedding.weight")]
        state[key] = state[key][torch.tensor(kept)]
        config["text_cfg"] = {**config["text_cfg"], "vocab_size": len(kept)}
        document["clipdraw"] = {"vocab": kept}
    preprocess = dict(preprocess_cfg or open_clip.get_model_preprocess_cfg(model))
    document = {"model_cfg": config,
                "preprocess_cfg": {k: list(preprocess[k]) for k in ("mean", "std")
                                   if k in preprocess},
                **document}
    base = Path(path)
    config_path, weights_path = base.with_suffix(".json"), base.with_suffix(".safetensors")
    config_path.write_text(json.dumps(document), encoding="utf-8")
    save_file({k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
               for k, v in state.items()}, str(weights_path), metadata={"format": "pt"})
    shutil.copymode(config_path, weights_path)  # safetensors writes 0600; installs need 0644
    return config_path, weights_path


# -- shipped models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedModel:
    """A model shipped inside the package, addressed by its short name."""

    name: str
    description: str
    config: Path
    weights: Path

    @property
    def available(self) -> bool:
        """Whether both files are in this installation."""
        return self.config.is_file() and self.weights.is_file()


def shipped_models() -> dict[str, ShippedModel]:
    """Every model clipdraw ships (:data:`SHIPPED_MODELS`, and any ``NAME.json`` in
    :data:`SHIPPED_FOLDER`), with whether its files are installed.

    Examples:
        >>> "shapes" in shipped_models()
        True
    """
    names = dict(SHIPPED_MODELS)
    if SHIPPED_FOLDER.is_dir():
        names.update({p.stem: names.get(p.stem, "") for p in SHIPPED_FOLDER.glob("*.json")})
    return {name: ShippedModel(name, about, SHIPPED_FOLDER / f"{name}.json",
                               SHIPPED_FOLDER / f"{name}.safetensors")
            for name, about in sorted(names.items())}


# -- specs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where a spec's architecture, weights and preprocessing come from (nothing loaded yet).

    ``name`` is what open_clip's ``create_model`` and ``get_tokenizer`` take; ``weights`` a local
    file, or ``None`` with ``tag_cfg`` (download that tag), ``hf_hub`` (download the repo's) or
    neither (random weights). ``hf_hub``: the config (and weights) come from the hub.
    """

    spec: str
    name: str
    weights: Path | None = None
    tag: str | None = None
    tag_cfg: Mapping[str, Any] = field(default_factory=dict)
    hf_hub: bool = False
    model_cfg: Mapping[str, Any] | None = None
    preprocess: Mapping[str, Any] = field(default_factory=dict)
    quick_gelu: bool = False
    vocab: tuple[int, ...] | None = None


def _read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any], tuple[int, ...] | None]:
    """``(model_cfg, preprocess_cfg, vocab)`` of a config JSON in either of open_clip's forms."""
    if not path.is_file():
        raise ModelLoadError(f"model config file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ModelLoadError(f"cannot read model config {path}: {_first_line(error)}") from None
    if not isinstance(data, dict):
        data = {}
    config = data.get("model_cfg", data)
    if not isinstance(config, dict) or not {"embed_dim", "vision_cfg", "text_cfg"} <= set(config):
        raise ModelLoadError(
            f"{path} is not an open_clip model config: it needs embed_dim, vision_cfg and text_cfg"
        )
    config = {k: v for k, v in config.items() if k != "clipdraw"}
    preprocess = data.get("preprocess_cfg") or {}
    if not isinstance(preprocess, dict) or not isinstance(config["text_cfg"], dict):
        raise ModelLoadError(f"{path}: preprocess_cfg and text_cfg must be JSON objects")
    sidecar = data.get("clipdraw") or {}
    vocab = sidecar.get("vocab") if isinstance(sidecar, dict) else None
    if vocab is not None:
        vocab = _check_vocab(vocab, config["text_cfg"], str(path))
    return config, preprocess, vocab


@functools.cache
def _registry_folder() -> Path:
    """A per-process folder for the configs clipdraw registers with open_clip (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="clipdraw-open-clip-configs-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _register(stem: str, model_cfg: Mapping[str, Any]) -> str:
    """Register ``model_cfg`` in open_clip's model registry; return its name there.

    The name is namespaced and carries a hash of the config (``clipdraw-STEM-1a2b3c4d``), so a
    user's ``ViT-B-32.json`` never replaces open_clip's own and two configs never share a name.
    ``add_model_config`` registers files under their stem, so the config is written under that name.
    """
    text = json.dumps(model_cfg, sort_keys=True)
    safe_stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:40]
    name = f"clipdraw-{safe_stem}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    if name not in open_clip.list_models():
        path = _registry_folder() / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        open_clip.add_model_config(path)
    return name


def _config_source(spec: str, path: Path, weights: Path | None) -> _Source:
    model_cfg, preprocess, vocab = _read_config(path)
    beside = path.with_suffix(".safetensors")
    if weights is None and beside.is_file():
        weights = beside
    return _Source(spec, "", weights, model_cfg=model_cfg, preprocess=preprocess, vocab=vocab)


def _resolve(spec: str, pretrained: str | None, weights_file: str | os.PathLike | None) -> _Source:
    """The :class:`_Source` of a spec, reading at most a config JSON and a file's first bytes."""
    weights = None if weights_file is None else Path(weights_file)
    if weights is not None:
        if not weights.is_file():
            raise ModelLoadError(f"CLIP weights file not found: {weights}")
        _weights_format(weights)
    if not spec or not spec.strip():
        raise ModelLoadError("empty model name")
    if spec.lower().endswith(".json"):
        return _config_source(spec, Path(spec), weights)
    shipped = shipped_models().get(spec)
    if shipped is not None:
        if not shipped.available:
            raise ModelLoadError(
                f"the shipped model {spec!r} is not in this installation: {shipped.config} and "
                f"{shipped.weights.name} are missing. Reinstall clipdraw, or pick another --model"
            )
        return _config_source(spec, shipped.config, weights)
    if ":" not in spec.split("/")[0] and Path(spec, "open_clip_config.json").is_file():
        spec = f"local-dir:{spec}"
    if spec.startswith("local-dir:"):
        folder = Path(spec[len("local-dir:"):])
        vocab = _read_config(folder / "open_clip_config.json")[2]
        if weights is None:
            from open_clip.factory import _find_checkpoint_in_dir

            found = _find_checkpoint_in_dir(folder)
            weights = None if found is None else Path(found)
            if weights is not None:
                _weights_format(weights)
        return _Source(spec, spec, weights, vocab=vocab)
    if spec.startswith("hf-hub:"):
        return _Source(spec, spec, weights, hf_hub=True)
    name = spec.replace("/", "-")
    if name not in open_clip.list_models():
        known = [*open_clip.list_models(), *shipped_models()]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(
            f"unknown CLIP model {spec!r}.{hint} See open_clip.list_models() and the shipped "
            f"models ({', '.join(shipped_models()) or 'none'}), or pass a model config JSON file, "
            "hf-hub:org/repo or local-dir:PATH."
        )
    if pretrained is None or pretrained.lower() in _NO_WEIGHTS:
        return _Source(spec, name, weights)
    tag_cfg = open_clip.get_pretrained_cfg(name, pretrained)
    if tag_cfg:
        # The tag also says how its weights were trained, which holds for --clip-weights too.
        preprocess = {k: tag_cfg[k] for k in ("mean", "std") if k in tag_cfg}
        return _Source(spec, name, weights, tag=pretrained, tag_cfg=tag_cfg if weights is None
                       else {}, preprocess=preprocess,
                       quick_gelu=bool(tag_cfg.get("quick_gelu", False)))
    if Path(pretrained).is_file():
        _weights_format(Path(pretrained))
        return _Source(spec, name, weights or Path(pretrained))
    tags = open_clip.list_pretrained_tags_by_model(name)
    raise ModelLoadError(
        f"unknown pretrained tag {pretrained!r} for {name}; known tags: {', '.join(tags) or 'none'}"
        " (or pass --clip-weights FILE, or --pretrained none for random weights)"
    )


# -- network -----------------------------------------------------------------------------------


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


def _hub_cached(repo: str, names: Sequence[str], cache_dir: str | None) -> Path | None:
    """The first of ``names`` that a download already put in the hub cache (found without asking
    the hub, which retries for a minute when it cannot be reached)."""
    from huggingface_hub import try_to_load_from_cache

    for name in names:
        found = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
    return None


def _cached_weights(tag_cfg: Mapping[str, Any], cache_dir: str | None) -> Path | None:
    """The local file of a pretrained tag's weights if a download already put it there."""
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        model_id, filename = os.path.split(hub)
        filename = filename or "open_clip_pytorch_model.bin"
        names = [filename[:-4] + ".safetensors"] if filename.endswith((".bin", ".pth")) else []
        if filename == "open_clip_pytorch_model.bin":
            names = ["open_clip_model.safetensors"]
        return _hub_cached(model_id, [*names, filename], cache_dir)
    url = tag_cfg.get("url", "")
    if url:
        local = Path(cache_dir or os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        return local if local.is_file() else None
    return None


def _from_hub_cache(source: _Source, cache_dir: str | None) -> _Source:
    """An ``hf-hub:`` source whose config and weights are cached, as the ``local-dir:`` of the
    cached snapshot (so loading asks no server); other sources unchanged."""
    if not source.hf_hub:
        return source
    repo = source.spec[len("hf-hub:"):]
    config = _hub_cached(repo, ["open_clip_config.json"], cache_dir)
    weights = source.weights or _hub_cached(
        repo, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"], cache_dir)
    if config is None or weights is None:
        return source
    return _Source(source.spec, f"local-dir:{config.parent}", weights,
                   vocab=_read_config(config)[2])


def _check_network(source: _Source, cache_dir: str | None) -> None:
    """Fail at once, in one line, when a download is needed but cannot happen (instead of a
    minute of retries)."""
    if source.hf_hub:
        url, what = "https://huggingface.co", source.spec
    elif source.tag_cfg and _cached_weights(source.tag_cfg, cache_dir) is None:
        url = "https://huggingface.co" if source.tag_cfg.get("hf_hub") else source.tag_cfg["url"]
        what = f"CLIP weights {source.spec}/{source.tag}"
    else:
        return
    if _offline():
        raise ModelLoadError(f"cannot get {what}: it is not in the cache and HF_HUB_OFFLINE=1 "
                             f"forbids a download. {_CACHE_HINT}")
    if not _reachable(url):
        raise ModelLoadError(f"cannot get {what}: it is not in the cache and the network "
                             f"cannot be reached. {_CACHE_HINT}")


def check_model_spec(
    spec: str,
    pretrained: str | None = None,
    weights_file: str | os.PathLike | None = None,
    *,
    check_download: bool = False,
) -> None:
    """Check a model spec without building the model or reading its weights.

    Args:
        spec, pretrained, weights_file: as for :func:`load_clip`.
        check_download: also check that weights still to be downloaded can be: in the cache, or
            (unless ``HF_HUB_OFFLINE=1``) from a host that answers (a network probe of up to 3 s).

    Raises:
        ModelLoadError: unknown model or tag, missing or unreadable file, unavailable weights.

    Examples:
        >>> check_model_spec("ViT-B-32", "none")
        >>> check_model_spec("ViT-B-33")
        Traceback (most recent call last):
        ...
        clipdraw.models.ModelLoadError: unknown CLIP model 'ViT-B-33'. Did you mean ViT-B-32, ...
    """
    source = _resolve(spec, pretrained, weights_file)
    if check_download:
        _check_network(_from_hub_cache(source, None), None)


# -- loading -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
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


def _first_line(error: BaseException) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return reason if len(reason) <= 160 else reason[:157] + "..."


def _weights_of(source: _Source, cache_dir: str | None) -> dict[str, Tensor] | None:
    """The state dict to load, fetching a tag's or a hub repo's file if needed (``None``: keep
    open_clip's random initial weights)."""
    path = source.weights
    try:
        if path is None and source.tag_cfg:
            with _quiet():
                path = _cached_weights(source.tag_cfg, cache_dir) or Path(
                    open_clip.download_pretrained(dict(source.tag_cfg), cache_dir=cache_dir))
        elif path is None and source.hf_hub:
            from open_clip.pretrained import download_pretrained_from_hf

            with _quiet():
                path = Path(download_pretrained_from_hf(source.name[len("hf-hub:"):],
                                                        cache_dir=cache_dir))
    except Exception as error:  # noqa: BLE001 - hub and url downloads raise many types
        what = source.spec + (f" with pretrained weights {source.tag!r}" if source.tag else "")
        raise ModelLoadError(f"cannot get CLIP model {what}: {_first_line(error)}. "
                             f"{_CACHE_HINT}") from None
    return None if path is None else read_state_dict(path)


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
        spec: model name, ``hf-hub:``/``local-dir:`` spec, folder, config JSON file or the short
            name of a shipped model.
        pretrained: pretrained tag (or checkpoint path) for built-in names; ``None``/``"none"``
            gives random weights (seeded, so the same in every run). Ignored by the other specs,
            as in open_clip.
        weights_file: a local checkpoint (``.safetensors`` or a ``torch.save`` state dict) loaded
            into the model instead of its own weights.
        device: where the model lives.
        cache_dir: download cache (open_clip's default when ``None``).

    Raises:
        ModelLoadError: unknown model or tag, missing or unsafe file, weights that cannot be
            downloaded or do not fit the architecture.
    """
    source = _from_hub_cache(_resolve(spec, pretrained, weights_file), cache_dir)
    _check_network(source, cache_dir)
    state = _weights_of(source, cache_dir)  # before building: a bad file fails at once
    name = source.name or _register(Path(spec).stem, source.model_cfg or {})
    try:
        # Random initial weights come from a fixed seed, so a model without pretrained weights is
        # the same in every run (and the caller's random state is left alone).
        with _quiet(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = open_clip.create_model(
                name, pretrained=None, load_weights=False, cache_dir=cache_dir,
                force_quick_gelu=source.quick_gelu,
                force_preprocess_cfg=dict(source.preprocess) or None,
                pretrained_text=state is None,  # no base text-tower download under full weights
            )
            tokenizer = open_clip.get_tokenizer(name, cache_dir=cache_dir)
        if source.vocab is not None:
            tokenizer = PrunedTokenizer(tokenizer, source.vocab)
    except Exception as error:  # noqa: BLE001 - open_clip raises RuntimeError, OSError, ...
        raise ModelLoadError(f"cannot build CLIP model {spec}: {_first_line(error)}") from None
    if state is not None:
        try:
            from open_clip.convert import convert_state_dict

            model.load_state_dict(convert_state_dict(model, state), strict=True)
        except Exception as error:  # noqa: BLE001 - shape and key mismatches
            raise ModelLoadError(
                f"cannot load the weights into {spec}: {_first_line(error)}. Check that --model "
                "names the architecture the checkpoint was trained with."
            ) from None
    model = model.to(resolve_device(device)).eval().requires_grad_(False)
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
