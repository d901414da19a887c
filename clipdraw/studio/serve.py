"""Run the studio in a thread of this process, on a free loopback port (tests, screenshots)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from clipdraw.studio.app import create_app
from clipdraw.studio.session import StudioConfig

__all__ = ["serve_in_thread"]


@contextlib.contextmanager
def serve_in_thread(config: StudioConfig, *, start_timeout: float = 60.0) -> Iterator[str]:
    """Serve the studio for ``config`` while the block runs; yields its ``http://127.0.0.1:PORT``.

    Raises:
        RuntimeError: the server did not start within ``start_timeout`` seconds.
    """
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the studio did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
