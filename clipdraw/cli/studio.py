"""`clipdraw studio`: serve the studio (:mod:`clipdraw.studio`) and open it in the browser."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from clipdraw.cli.options import SetupError, check_device
from clipdraw.options import OPTION_BY_KEY, option_help

EPILOG = """\b
Examples:
  clipdraw studio                                  # http://127.0.0.1:8765, opens the browser
  clipdraw studio --model ViT-B-16 --pretrained laion2b_s34b_b88k --port 9000
  clipdraw studio --host 0.0.0.0 --allow-remote    # reachable from other machines: careful

\b
Drawings, their settings and uploads are kept in --output (a new folder per session).
Ctrl-C stops the server; the drawing in progress is saved as it is.
"""

_LOOPBACK_NAMES = ("localhost",)


def _schema_option(key: str, *flags: str) -> Any:
    """A click option whose spelling and help come from the option schema."""
    import dataclasses

    from clipdraw.settings import DrawSettings

    defaults = {f.name: getattr(DrawSettings(), f.name) for f in dataclasses.fields(DrawSettings)}
    option = OPTION_BY_KEY[key]
    return click.option(*(flags or option.flags), key, multiple=option.multiple, default=None,
                        help=option_help(option, defaults))


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise click.BadParameter(f"cannot listen on {host}:{port}: "
                                 f"{error.strerror or error}", param_hint="--host/--port"
                                 ) from None
    return sock


@click.command(name="studio", epilog=EPILOG)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one reachable from other machines needs "
                   "--allow-remote.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host other machines can reach (anyone who can reach it can draw "
                   "and upload).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
@_schema_option("models", "-m", "--model")
@_schema_option("pretrained")
@_schema_option("clip_weights")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
@click.option("-o", "--output", default="clipdraw-studio", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the sessions' drawings and uploads (each session its own "
                   "subfolder).")
@click.option("--max-upload-mb", default=16.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True, max=1024),
              help="Largest upload accepted, in MiB.")
def command(**o: Any) -> None:
    """Open the studio: a local web page to watch a drawing grow, steer it, and compare prompts
    and images by CLIP similarity."""
    from clipdraw.models import ModelLoadError, check_model_spec
    from clipdraw.settings import DrawSettings
    from clipdraw.studio import Studio, StudioConfig, create_app

    host = o["host"]
    if not is_loopback(host):
        if not o["allow_remote"]:
            raise click.BadParameter(f"{host} can be reached from other machines; add "
                                     "--allow-remote if that is what you want",
                                     param_hint="--host")
        click.echo(f"Warning: listening on {host}: anyone who can reach this machine can draw, "
                   "upload images and fill its disk.", err=True)
    check_device(o["device"])
    defaults = DrawSettings()
    models = tuple(o["models"]) or defaults.models
    pretrained = defaults.pretrained if o["pretrained"] is None else o["pretrained"]
    if isinstance(pretrained, str) and pretrained.lower() in ("none", "random"):
        pretrained = None
    for spec in models:
        try:
            check_model_spec(spec, pretrained, o["clip_weights"])
        except ModelLoadError as error:
            raise SetupError(str(error)) from None
    folder = o["output"] / datetime.now().strftime("session-%Y%m%d-%H%M%S")
    config = StudioConfig(folder=folder, models=models, pretrained=pretrained,
                          clip_weights=o["clip_weights"], device=o["device"],
                          max_upload_bytes=int(o["max_upload_mb"] * 2**20))
    sock = _bind(host, o["port"])
    port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    studio = Studio(config)
    serve(create_app(config, studio), sock, studio, url, open_browser=not o["no_browser"])
    kept = sum(1 for job in studio.jobs.values() if job.files)
    click.echo(f"Studio stopped; {kept} drawing(s) kept in {folder}" if kept
               else "Studio stopped.", err=True)


def serve(app: Any, sock: socket.socket, studio: Any, url: str, open_browser: bool) -> None:
    """Run ``app`` on ``sock`` until Ctrl-C; the first Ctrl-C stops the drawing in progress (it
    is saved) and ends the live streams, so the server stops at once."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            studio.stop_all()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3,
                            lifespan="on")
    server = Server(config)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            click.echo(f"clipdraw studio on {url}  (Ctrl-C stops it)", err=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn raises the Ctrl-C again once it has shut down: the stop we asked for
