"""The studio's API in-process (Starlette's TestClient): every route, with good and bad input."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from PIL import Image  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from clipdraw.options import OPTION_BY_KEY  # noqa: E402
from clipdraw.studio import Studio, StudioConfig, create_app  # noqa: E402
from clipdraw.studio.form import SERVER_KEYS, form_fields  # noqa: E402

UPLOAD_LIMIT = 64 * 1024
FAST = {"size": "16", "paths": "3", "num_augs": "1"}


def png_bytes(width: int = 20, height: int = 10, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "red" if mode == "RGB" else 0).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("studio_session")


@pytest.fixture(scope="module")
def client(tiny_clip_config, folder):
    config = StudioConfig(folder=folder, models=(str(tiny_clip_config),), pretrained=None,
                          device="cpu", max_upload_bytes=UPLOAD_LIMIT, frame_seconds=0.0)
    with TestClient(create_app(config)) as test_client:
        yield test_client


def wait_for(client, job_id: str, done, timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/drawings/{job_id}").json()
        if done(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"drawing {job_id} never got there: {state}")


def ended(state: dict) -> bool:
    return state["status"] in ("done", "stopped", "failed")


def draw(client, **values) -> dict:
    response = client.post("/api/drawings", json={"settings": {**FAST, **values}})
    assert response.status_code == 201, response.text
    return response.json()


# -- the page and what it is built from ---------------------------------------------------------
def test_page_tabs_and_static_files_are_served(client):
    for path in ("/", "/clip"):
        page = client.get(path)
        assert page.status_code == 200 and "clipdraw studio" in page.text
    assert "EventSource" in client.get("/static/studio.js").text
    assert client.get("/static/studio.css").status_code == 200
    assert client.get("/static/missing.js").status_code == 404


def test_status_reports_the_loaded_model_and_the_queue(client, tiny_clip_config):
    deadline = time.monotonic() + 120
    while (status := client.get("/api/status").json())["state"] == "loading":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["state"] == "ready" and status["error"] is None
    assert status["models"] == [str(tiny_clip_config)]
    assert status["max_upload_bytes"] == UPLOAD_LIMIT


def test_form_is_the_option_schema_less_what_the_server_decides(client):
    fields = client.get("/api/options").json()["fields"]
    assert fields == form_fields()
    keys = {f["key"] for f in fields}
    assert not keys & set(SERVER_KEYS)
    assert {"prompts", "size", "paths", "iterations", "shape", "seed", "background"} <= keys
    for field in fields:
        option = OPTION_BY_KEY[field["key"]]
        assert field["help"] == option.help
    shape = next(f for f in fields if f["key"] == "shape")
    assert shape["choices"] == list(OPTION_BY_KEY["shape"].type.choices)
    paths = next(f for f in fields if f["key"] == "paths")
    assert (paths["kind"], paths["minimum"], paths["maximum"]) == ("integer", 0, 10_000)


# -- drawings -----------------------------------------------------------------------------------
def test_a_drawing_streams_frames_and_is_kept_in_the_session_folder(client, folder):
    job = draw(client, prompts=["a red circle"], iterations="3", seed="4")
    state = wait_for(client, job["id"], ended)
    assert state["status"] == "done", state
    assert state["step"] == state["iterations"] == 3
    assert [h[0] for h in state["history"]] == [1, 2, 3]
    assert state["svg"].lstrip().startswith("<?xml") and state["similarity"] is not None
    kept = folder / "drawings" / f"drawing-{int(job['id']):03d}"
    assert all(kept.with_suffix(s).is_file() for s in (".svg", ".png", ".json"))
    assert json.loads(kept.with_suffix(".json").read_text())["settings"]["seed"] == 4

    stream = client.get(f"/api/drawings/{job['id']}/events")
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block for block in stream.text.split("\n\n") if block]
    assert events[-1].startswith("event: end")
    frame = json.loads(events[0].split("data: ", 1)[1])
    assert frame["status"] == "done" and len(frame["history"]) == 3

    listed = client.get("/api/drawings").json()["drawings"]
    assert any(d["id"] == job["id"] and d["request"]["seed"] == "4" for d in listed)


def test_downloads_parse_and_match_the_drawing(client):
    from clipdraw.svg import load_svg, read_svg_metadata

    job = draw(client, prompts=["a blue square"], iterations="2")
    wait_for(client, job["id"], ended)
    base = f"/api/drawings/{job['id']}/drawing"
    svg = client.get(base + ".svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "attachment" in svg.headers["content-disposition"]
    path = Path(client.app.state.studio.folder) / "check.svg"
    path.write_bytes(svg.content)
    assert load_svg(path).num_paths == 3
    assert read_svg_metadata(path)["settings"]["prompts"] == ["a blue square"]
    png = Image.open(io.BytesIO(client.get(base + ".png?scale=2").content))
    assert png.size == (32, 32)
    assert client.get(base + ".json").json()["metrics"]["steps"] == 2
    assert client.get(base + ".gif").status_code == 404
    for scale in ("0", "nan", "abc", "100000"):
        bad = client.get(base + f".png?scale={scale}")
        assert bad.status_code == 400 and "scale" in bad.json()["error"]


def test_stop_keeps_the_drawing_and_resume_goes_on_counting_steps(client):
    job = draw(client, prompts=["a green tree"], iterations="50")
    waiting = draw(client, prompts=["queued behind"], iterations="50")
    queued = client.get(f"/api/drawings/{waiting['id']}").json()
    assert queued["status"] == "queued"
    assert client.get(f"/api/drawings/{waiting['id']}/drawing.svg").status_code == 409
    assert client.post(f"/api/drawings/{waiting['id']}/stop").json()["status"] == "stopped"
    assert client.post(f"/api/drawings/{waiting['id']}/resume").status_code == 409

    wait_for(client, job["id"], lambda s: s["step"] >= 2)
    client.post(f"/api/drawings/{job['id']}/stop")
    stopped = wait_for(client, job["id"], ended)
    assert stopped["status"] == "stopped" and stopped["files"] == ["json", "png", "svg"]
    assert 2 <= stopped["step"] < 50

    resumed = client.post(f"/api/drawings/{job['id']}/resume")
    assert resumed.status_code == 201
    again = resumed.json()
    assert again["resumed_from"] == job["id"] and again["iterations"] == 50
    wait_for(client, again["id"], lambda s: s["step"] > stopped["step"])
    client.post(f"/api/drawings/{again['id']}/stop")
    final = wait_for(client, again["id"], ended)
    assert final["status"] == "stopped" and final["history"][0][0] == stopped["step"] + 1
    assert client.post(f"/api/drawings/{again['id']}/resume").status_code == 201
    client.post(f"/api/drawings/{int(again['id']) + 1}/stop")


@pytest.mark.parametrize("settings, option, words", [
    ({"colour": "red"}, "colour", "unknown setting"),
    ({"prompts": ["x"], "paths": "-3"}, "paths", "non-negative"),
    ({"prompts": ["x"], "paths": "many"}, "paths", "integer"),
    ({"prompts": ["x"], "iterations": "1e9"}, "iterations", "at most"),
    ({"prompts": ["x"], "size": "99999"}, "size", "4096"),
    ({"prompts": ["x"], "shape": "circles"}, "shape", "strokes, blobs"),
    ({"prompts": ["x::heavy"]}, "prompts", "weight"),
    ({"prompts": ["x"], "models": ["ViT-L-14"]}, "models", "clipdraw studio --model"),
    ({"prompts": ["x"], "init_svg": "/etc/passwd"}, "init_svg", "clipdraw studio"),
    ({"prompts": ["x"], "image_prompt": "/etc/hostname"}, "image_prompt", "no such image"),
    ({"size": "32"}, "prompts", "nothing to draw"),
])
def test_bad_settings_are_refused_naming_the_option(client, settings, option, words):
    response = client.post("/api/drawings", json={"settings": settings})
    assert response.status_code == 400
    assert response.json()["option"] == option and words in response.json()["error"]


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"settings": [1]}', 400, "settings must be"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "not JSON"),
    (b"[" * 600_000 + b"]" * 600_000, 413, "limit"),
    (b'{"settings": {"prompts": "\\ud800"}}', 400, "surrogate"),
])
def test_bad_request_bodies_are_refused(client, body, status, words):
    response = client.post("/api/drawings", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == status and words in response.json()["error"]


def test_unknown_drawings_are_404_on_every_route(client):
    for method, path in (("get", ""), ("get", "/events"), ("post", "/stop"),
                         ("post", "/resume"), ("get", "/drawing.svg")):
        response = getattr(client, method)(f"/api/drawings/999{path}")
        assert response.status_code == 404 and "no drawing" in response.json()["error"]
    assert client.get("/api/nothing").status_code == 404


# -- uploads ------------------------------------------------------------------------------------
def test_an_image_upload_is_kept_under_its_own_name_and_served(client, folder):
    response = client.post("/api/uploads?name=../../evil.png", content=png_bytes())
    assert response.status_code == 201
    upload = response.json()
    assert (upload["kind"], upload["width"], upload["height"]) == ("image", 20, 10)
    kept = sorted((folder / "uploads").iterdir())
    assert [p.name for p in kept][-1] == f"{upload['id']}.png"
    assert not (folder.parent / "evil.png").exists()
    served = client.get(f"/api/uploads/{upload['id']}")
    assert served.content == png_bytes()
    assert "sandbox" in served.headers["content-security-policy"]
    assert client.get("/api/uploads/u999").status_code == 404


def test_an_uploaded_image_can_be_the_image_prompt_but_not_an_svg(client):
    upload = client.post("/api/uploads?name=a.png", content=png_bytes(32, 32)).json()
    job = draw(client, image_prompt=upload["id"], iterations="1")
    state = wait_for(client, job["id"], ended)
    assert state["status"] == "done", state
    svg = client.post("/api/uploads?name=b.svg", content=b"<svg xmlns='http://www.w3.org/2000/svg'"
                      b" width='9' height='9'><path d='M0 0 L9 9' stroke='red'/></svg>").json()
    refused = client.post("/api/drawings", json={"settings": {"target": svg["id"]}})
    assert refused.status_code == 400 and "no such image upload" in refused.json()["error"]


@pytest.mark.parametrize("data, status, words", [
    (b"x" * (UPLOAD_LIMIT + 1), 413, "upload limit"),
    (b"hello, not an image", 415, "not an image"),
    (b"", 400, "empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><unclosed", 415, "not an SVG"),
    (png_bytes(8000, 6000, mode="1"), 413, "pixels"),
    (png_bytes()[:40], 415, "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' width='5000' height='5000'>"
     b"<path d='M0 0 L9 9' stroke='red'/></svg>", 413, "5000x5000 px"),
])
def test_bad_uploads_are_refused_and_the_server_keeps_serving(client, data, status, words):
    response = client.post("/api/uploads?name=file", content=data)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert client.get("/api/status").status_code == 200


def test_a_declared_oversized_upload_is_refused_before_it_is_read(client):
    response = client.post("/api/uploads?name=big.png", content=b"x" * 10,
                           headers={"content-length": str(UPLOAD_LIMIT * 10)})
    assert response.status_code == 413


# -- the CLIP page's table ----------------------------------------------------------------------
def test_clip_table_is_prompts_by_images_with_the_best_prompt_per_image(client, tiny_clip):
    import torch

    from clipdraw.objectives import load_image

    svg = b"""<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">
      <path d="M2 2 L18 18" stroke="blue" stroke-width="3" fill="none"/></svg>"""
    image = client.post("/api/uploads?name=a.png", content=png_bytes()).json()
    drawing = client.post("/api/uploads?name=b.svg", content=svg).json()
    assert drawing["kind"] == "svg"
    job = draw(client, prompts=["a red circle"], iterations="1")
    wait_for(client, job["id"], ended)
    prompts = ["a red thing", "a blue line"]
    response = client.post("/api/clip", json={
        "prompts": prompts, "images": [image["id"], drawing["id"], "d" + job["id"]]})
    assert response.status_code == 200, response.text
    table = response.json()
    similarity = torch.tensor(table["similarity"])
    assert similarity.shape == (2, 3)
    assert table["best"] == similarity.argmax(0).tolist()
    assert torch.tensor(table["text_embeddings"]).norm(dim=1).allclose(torch.ones(2))
    reference = tiny_clip.encode_image(tiny_clip.preprocess(
        load_image(client.app.state.studio.uploads.get(image["id"]).path)[None]))
    expected = tiny_clip.encode_text(prompts) @ reference.T
    assert similarity[:, :1].allclose(expected, atol=1e-5)


@pytest.mark.parametrize("body, status, words", [
    ({"prompts": [], "images": ["u1"]}, 400, "at least one prompt"),
    ({"prompts": ["a"], "images": []}, 400, "at least one prompt"),
    ({"prompts": "a", "images": ["u1"]}, 400, "lists"),
    ({"prompts": ["a"] * 65, "images": ["u1"]}, 400, "at most 64"),
    ({"prompts": ["a"], "images": ["u999"]}, 404, "no upload"),
    ({"prompts": ["a"], "images": ["d999"]}, 404, "no drawing"),
    ({"prompts": ["a"], "images": [3]}, 400, "upload or drawing id"),
    ({"prompts": ["a" * 20_000], "images": ["u1"]}, 400, "longer than"),
])
def test_bad_clip_requests_are_refused(client, body, status, words):
    client.post("/api/uploads?name=a.png", content=png_bytes())
    response = client.post("/api/clip", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]


# -- the session ----------------------------------------------------------------------------------
def test_a_failed_model_load_is_the_message_draw_gives(tmp_path):
    from clipdraw.models import ModelLoadError, load_clip

    missing = str(tmp_path / "missing.json")
    with pytest.raises(ModelLoadError) as expected:
        load_clip(missing, None)
    config = StudioConfig(folder=tmp_path / "s", models=(missing,), pretrained=None)
    with TestClient(create_app(config)) as client:
        deadline = time.monotonic() + 60
        while client.get("/api/status").json()["state"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/api/status").json()["error"] == str(expected.value)
        job = client.post("/api/drawings", json={"settings": {"prompts": ["x"]}}).json()
        state = wait_for(client, job["id"], ended)
        assert (state["status"], state["error"]) == ("failed", str(expected.value))
        table = client.post("/api/clip", json={"prompts": ["a"], "images": ["u1"]})
        assert table.status_code == 404  # no such upload: checked before the model


def test_closing_the_studio_stops_and_keeps_the_running_drawing(tmp_path, tiny_clip_config):
    studio = Studio(StudioConfig(folder=tmp_path, models=(str(tiny_clip_config),),
                                 pretrained=None, device="cpu"))
    studio.start()
    job = studio.submit({**FAST, "prompts": ["a boat"], "iterations": "50"})
    waiting = studio.submit({**FAST, "prompts": ["never drawn"]})
    deadline = time.monotonic() + 240
    while job.step < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    studio.close()
    assert job.status == "stopped" and job.step < 50
    assert job.files["svg"].is_file() and job.files["svg"].parent == tmp_path / "drawings"
    assert waiting.status == "stopped" and not waiting.files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawings"]


# -- the command --------------------------------------------------------------------------------
def test_a_host_others_can_reach_needs_allow_remote(monkeypatch, tiny_clip_config, tmp_path):
    from click.testing import CliRunner

    from clipdraw.cli import cli
    from clipdraw.cli import studio as studio_command

    served = []
    monkeypatch.setattr(studio_command, "serve", lambda *args, **kwargs: served.append(args))
    base = ["studio", "--model", str(tiny_clip_config), "--pretrained", "none", "--no-browser",
            "--port", "0", "-o", str(tmp_path)]
    refused = CliRunner().invoke(cli, [*base, "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "--allow-remote" in refused.output and not served
    allowed = CliRunner().invoke(cli, [*base, "--host", "0.0.0.0", "--allow-remote"])
    assert allowed.exit_code == 0 and "Warning" in allowed.output and len(served) == 1
    local = CliRunner().invoke(cli, base)
    assert local.exit_code == 0 and "Warning" not in local.output


def test_a_bad_model_is_refused_before_serving(tmp_path):
    from click.testing import CliRunner

    from clipdraw.cli import cli

    result = CliRunner().invoke(cli, ["studio", "--model", str(tmp_path / "no.json"),
                                      "--no-browser", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "no.json" in result.output
    assert not list(tmp_path.iterdir())


def test_ctrl_c_stops_the_server_cleanly_keeping_the_drawing_in_progress(tmp_path,
                                                                         tiny_clip_config):
    import os
    import urllib.request

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    server = subprocess.Popen(
        [sys.executable, "-m", "clipdraw", "studio", "--model", str(tiny_clip_config),
         "--pretrained", "none", "--no-browser", "--port", "0", "-o", str(tmp_path)],
        stderr=subprocess.PIPE, text=True, env=env)

    def call(path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data=data,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    try:
        line = server.stderr.readline()
        while "studio on" not in line:
            assert line, "the studio never started"
            line = server.stderr.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert call("api/status")["models"] == [str(tiny_clip_config)]
        job = call("api/drawings", {"settings": {**FAST, "prompts": ["a kite"],
                                                 "iterations": "90"}})
        stream = urllib.request.urlopen(url + f"api/drawings/{job['id']}/events", timeout=60)
        deadline = time.monotonic() + 240
        while call(f"api/drawings/{job['id']}")["step"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
        assert "1 drawing(s) kept" in server.stderr.read()
        stream.close()
        kept = list(tmp_path.glob("session-*/drawings/drawing-001.json"))
        assert len(kept) == 1
        metrics = json.loads(kept[0].read_text())["metrics"]
        assert metrics["interrupted"] and 1 <= metrics["steps"] < 90
    finally:
        if server.poll() is None:
            server.kill()
