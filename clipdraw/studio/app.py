"""The studio's ASGI app (Starlette): the page, a JSON API and live frames as server-sent events.

Routes (every error is JSON ``{"error": message, "option": key-or-null}`` with a 4xx status):

=========================================  ======================================================
``GET /``, ``GET /clip``                   the page (draw and CLIP tabs), ``/static/...`` its files
``GET /api/status``                        the model (loading, ready or its error), the queue
``GET /api/options``                       the form, made from the option schema
``POST /api/uploads?name=N``               an image or SVG as the request body -> its upload id
``GET /api/uploads/{id}``                  an upload's file
``GET /api/drawings``                      the session's drawings (the gallery), newest first
``POST /api/drawings``                     ``{"settings": {key: value}}`` -> a queued drawing
``GET /api/drawings/{id}``                 a drawing's state, latest SVG and history
``GET /api/drawings/{id}/events``          its frames as server-sent events, until it ends
``POST /api/drawings/{id}/stop``           stop it (saved as it is)
``POST /api/drawings/{id}/resume``         a new drawing going on from a stopped one
``GET /api/drawings/{id}/drawing.svg``     its latest drawing as SVG, PNG (``?scale=``) or JSON
``POST /api/clip``                         ``{"prompts": [...], "images": [ids]}`` -> the table
=========================================  ======================================================

Example:
    >>> from starlette.testclient import TestClient
    >>> app = create_app(StudioConfig(folder="session", models=("tiny.json",)))  # doctest: +SKIP
    >>> with TestClient(app) as client:  # doctest: +SKIP
    ...     client.post("/api/drawings", json={"settings": {"prompts": ["a cat"]}}).json()["id"]
    '1'
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clipdraw.studio.form import form_fields
from clipdraw.studio.session import Studio, StudioConfig, StudioError
from clipdraw.studio.uploads import UploadError

__all__ = ["MAX_JSON_BYTES", "create_app"]

STATIC = Path(__file__).parent / "static"

#: The largest JSON request body accepted.
MAX_JSON_BYTES = 1 << 20

#: Seconds between two looks at a drawing for new frames (the frames themselves are throttled
#: by :attr:`StudioConfig.frame_seconds`).
POLL_SECONDS = 0.05

_MEDIA = {"svg": "image/svg+xml", "png": "image/png", "json": "application/json"}

#: Files that come from uploads or drawings: never run as a page of this site (an SVG may hold
#: scripts), whatever the browser guesses.
_INERT = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                     "img-src data:; sandbox",
          "X-Content-Type-Options": "nosniff"}


def _error(message: str, status: int, key: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "option": key}, status_code=status)


def size_text(size: int) -> str:
    """Bytes in words: ``size_text(65536) == '64 KiB'``."""
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size / 2**10:g} KiB"


async def _body(request: Request, limit: int, what: str, kind: str) -> bytes:
    """The request body, refusing (413) one over ``limit`` bytes before reading it all."""
    too_large = StudioError(f"{what} is larger than the {kind} limit of {size_text(limit)}",
                            status=413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request) -> dict[str, Any]:
    data = await _body(request, MAX_JSON_BYTES, "the request", "request")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StudioError("the request body is not JSON") from None
    if not isinstance(value, dict):
        raise StudioError("the request body must be a JSON object")
    return value


def create_app(config: StudioConfig, studio: Studio | None = None) -> Starlette:
    """The studio's ASGI app; its lifespan starts ``studio`` (made from ``config`` when not
    given) and closes it, saving the running drawing."""
    studio = studio or Studio(config)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def status(request: Request) -> Response:
        jobs = list(studio.jobs.values())
        queued = [j.id for j in jobs if j.status == "queued"]
        running = [j.id for j in jobs if j.status == "running"]
        return JSONResponse({**studio.model_status(), "queued": queued,
                             "running": running[0] if running else None,
                             "folder": str(studio.folder),
                             "max_upload_bytes": studio.config.max_upload_bytes})

    async def options(request: Request) -> Response:
        return JSONResponse({"fields": form_fields()})

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name", "upload")
        data = await _body(request, studio.config.max_upload_bytes, name[:80] or "the upload",
                           "upload")
        kept = await run_in_threadpool(studio.uploads.add, data, name)
        return JSONResponse(kept.to_json(), status_code=201)

    async def upload_file(request: Request) -> Response:
        kept = studio.uploads.get(request.path_params["id"])
        if kept is None:
            raise StudioError("no such upload in this session", status=404)
        media = "image/svg+xml" if kept.kind == "svg" else None
        return FileResponse(kept.path, media_type=media, headers=_INERT)

    async def drawings(request: Request) -> Response:
        jobs = sorted(list(studio.jobs.values()), key=lambda j: -int(j.id))
        return JSONResponse({"drawings": [j.summary() for j in jobs]})

    async def new_drawing(request: Request) -> Response:
        body = await _json(request)
        values = body.get("settings", {})
        if not isinstance(values, dict):
            raise StudioError("settings must be an object of option: value")
        job = await run_in_threadpool(studio.submit, values)
        return JSONResponse(job.summary(), status_code=201)

    async def one_drawing(request: Request) -> Response:
        return JSONResponse(studio.job(request.path_params["id"]).frame())

    async def stop(request: Request) -> Response:
        return JSONResponse(studio.stop(request.path_params["id"]).summary())

    async def resume(request: Request) -> Response:
        job = studio.resume(request.path_params["id"])
        return JSONResponse(job.summary(), status_code=201)

    async def events(request: Request) -> Response:
        job = studio.job(request.path_params["id"])

        async def stream() -> AsyncIterator[str]:
            seen, sent = -1, 0
            while True:
                version, ended = job.version, job.ended
                if version != seen:
                    seen = version
                    frame = job.frame(sent)
                    sent += len(frame["history"])
                    yield f"event: frame\ndata: {json.dumps(frame)}\n\n"
                if ended:
                    yield "event: end\ndata: {}\n\n"
                    return
                if studio.closing and job.status != "running":
                    return
                await asyncio.sleep(POLL_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def download(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in _MEDIA:
            raise StudioError("download drawing.svg, drawing.png or drawing.json", status=404)
        job_id = request.path_params["id"]
        drawing = studio.drawing(job_id)
        headers = {**_INERT,
                   "Content-Disposition": f'attachment; filename="clipdraw-{job_id}.{kind}"'}
        if kind == "png":
            scale = _scale(request.query_params.get("scale", "1"), drawing)
            data = await run_in_threadpool(_png_bytes, drawing, scale)
        elif kind == "svg":
            data = (await run_in_threadpool(_svg_text, drawing)).encode("utf-8")
        else:
            data = (json.dumps(_json_safe(drawing.metadata()), indent=2) + "\n").encode("utf-8")
        return Response(data, media_type=_MEDIA[kind], headers=headers)

    async def clip(request: Request) -> Response:
        body = await _json(request)
        table = await run_in_threadpool(studio.similarity, body.get("prompts"),
                                        body.get("images"))
        return JSONResponse(table)

    async def studio_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StudioError)
        return _error(str(error), error.status, error.key)

    async def upload_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, UploadError)
        return _error(str(error), error.status, "upload")

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return _error(str(error.detail), error.status_code)

    async def server_error(request: Request, error: Exception) -> Response:
        return _error(f"the studio could not do that: {type(error).__name__}: {error}"[:500], 500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        studio.start()
        try:
            yield
        finally:
            await run_in_threadpool(studio.close)

    routes = [
        Route("/", page),
        Route("/clip", page),
        Route("/api/status", status),
        Route("/api/options", options),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/uploads/{id}", upload_file),
        Route("/api/drawings", drawings, methods=["GET"]),
        Route("/api/drawings", new_drawing, methods=["POST"]),
        Route("/api/drawings/{id}", one_drawing),
        Route("/api/drawings/{id}/events", events),
        Route("/api/drawings/{id}/stop", stop, methods=["POST"]),
        Route("/api/drawings/{id}/resume", resume, methods=["POST"]),
        Route("/api/drawings/{id}/drawing.{kind}", download),
        Route("/api/clip", clip, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        exception_handlers={StudioError: studio_error, UploadError: upload_error,
                            HTTPException: http_error, Exception: server_error},
    )
    app.state.studio = studio
    return app


def _scale(text: str, drawing: Any) -> float:
    from clipdraw.options import LIMITS, Number

    try:
        scale = Number(minimum=0, open_minimum=True, maximum=64).convert(text)
    except ValueError as error:
        raise StudioError(f"scale: {error}", key="scale") from None
    side = max(drawing.scene.width, drawing.scene.height) * scale
    if side > LIMITS["png_side"]:
        raise StudioError(f"scale: the PNG would be {side:g} px on a side, more than "
                          f"{LIMITS['png_side']:g}", key="scale")
    return scale


def _json_safe(value: Any) -> Any:
    from clipdraw.io import json_safe

    return json_safe(value)


def _svg_text(drawing: Any) -> str:
    from clipdraw.svg import scene_to_svg

    return scene_to_svg(drawing.scene, metadata=_json_safe(drawing.metadata()))


def _png_bytes(drawing: Any, scale: float) -> bytes:
    from clipdraw.io import image_to_pil

    buffer = io.BytesIO()
    image_to_pil(drawing.render(scale)).save(buffer, format="PNG")
    return buffer.getvalue()
