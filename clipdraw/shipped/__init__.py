"""Models shipped inside clipdraw, addressed by short name (``--model shapes``).

Each model is two files here, read by :func:`clipdraw.models.load_clip` through open_clip's own
factory, offline:

- ``NAME.json``: open_clip's config format, ``{"model_cfg": ..., "preprocess_cfg": {"mean",
  "std"}}``, plus an optional ``"clipdraw": {"vocab": [token ids]}`` when the token-embedding
  table is pruned (see :class:`clipdraw.models.PrunedTokenizer`);
- ``NAME.safetensors``: the state dict in open_clip's layout (fp16 is fine).

:func:`clipdraw.models.save_model` writes both; :data:`clipdraw.models.SHIPPED_MODELS` names the
models clipdraw ships, and :func:`clipdraw.models.shipped_models` says which are installed.
"""
