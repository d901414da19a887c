"""``clipdraw studio``: a local web app to watch a drawing grow, steer it and explore CLIP.

:mod:`~clipdraw.studio.form` turns the option schema into the page's form and reads it back,
:mod:`~clipdraw.studio.session` runs one drawing at a time from a queue with the model loaded
once, and :mod:`~clipdraw.studio.app` is the ASGI app (Starlette) that serves the page, the API
and the live frames (server-sent events).

Example:
    >>> from clipdraw.studio import StudioConfig, create_app
    >>> config = StudioConfig(folder="studio-session", models=("ViT-B-32",))
    >>> app = create_app(config)
    >>> app.state.studio.model_status()["state"]
    'loading'
"""

from clipdraw.studio.app import create_app
from clipdraw.studio.session import Studio, StudioConfig

__all__ = ["Studio", "StudioConfig", "create_app"]
