"""Safe by default (issue 23): 127.0.0.1 unless told otherwise; any other host needs a
token, checked on every request (401 without it); a local server answers only requests
addressed to this machine; the real uvicorn server keeps the same rules."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from lmlab.cli import main
from lmlab.recipes import serve_commands
from lmlab.serve import build_app

TOKEN = "s3cret-token_for.tests"
PATHS = [("GET", "/models"), ("GET", "/health"), ("GET", "/"), ("GET", "/docs"),
         ("POST", "/score"), ("POST", "/fill-mask"), ("POST", "/generate"),
         ("POST", "/classify"), ("POST", "/tag"), ("POST", "/embed")]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def remote(models):
    """The app as ``lmlab serve --host 0.0.0.0 --token TOKEN`` builds it."""
    from fastapi.testclient import TestClient

    return TestClient(build_app(models, token=TOKEN, local_only=False),
                      base_url="http://lab.example:8000")


@pytest.mark.parametrize("method, path", PATHS)
def test_every_request_without_the_right_token_is_a_401(remote, method, path):
    body = {"json": {"model": "gpt", "text": "a"}} if method == "POST" else {}
    for headers, what in (({}, "missing"), ({"authorization": "Bearer wrong-token"}, "wrong"),
                          ({"authorization": f"Basic {TOKEN}"}, "missing")):
        response = remote.request(method, path, headers=headers, **body)
        assert response.status_code == 401, (path, headers)
        assert response.json()["error"].startswith(f"token: {what}; send 'Authorization: Bearer")
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_token_opens_every_endpoint_and_a_browser_keeps_it_in_a_cookie(remote):
    bearer = {"authorization": f"Bearer {TOKEN}"}
    assert remote.get("/models", headers=bearer).status_code == 200
    scored = remote.post("/score", headers=bearer, json={"model": "gpt", "text": "shares fell"})
    assert scored.status_code == 200 and scored.json()["perplexity"] > 1
    page = remote.get(f"/?token={TOKEN}")  # a browser opening the playground
    assert page.status_code == 200
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    assert remote.get("/models").status_code == 200  # the cookie now travels with requests
    remote.cookies.clear()
    assert remote.get("/models").status_code == 401


def test_a_local_server_answers_only_requests_addressed_to_this_machine(models):
    from fastapi.testclient import TestClient

    rebound = TestClient(build_app(models), base_url="http://attacker.example")
    response = rebound.get("/models")
    assert response.status_code == 400 and "Host 'attacker.example'" in response.json()["error"]
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert rebound.get("/health", headers={"host": host}).status_code == 200, host


@pytest.mark.parametrize("argv, expected", [
    (["--host", "0.0.0.0"], "--host 0.0.0.0: serving beyond this machine needs a token"),
    (["--host", "0.0.0.0", "--token", "short"], "--token (LMLAB_SERVE_TOKEN): expected at least 8"),
])
def test_binding_another_host_without_a_token_is_refused_in_one_line(capsys, runs, argv,
                                                                     expected):
    assert main(["serve", str(runs["gpt"]), *argv, "--port", str(_port())]) == 1
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1


def test_the_token_may_come_from_the_environment(capsys, runs, monkeypatch):
    from fastapi.testclient import TestClient

    served = {}
    monkeypatch.setattr(serve_commands, "serve", lambda app, host, port, log_level: served.update(
        app=app, host=host, port=port))
    monkeypatch.setenv("LMLAB_SERVE_TOKEN", TOKEN)
    port = _port()
    assert main(["serve", f"lm={runs['gpt']}", "--host", "0.0.0.0", "--port", str(port)]) == 0
    assert f"lm (causal-lm) on http://0.0.0.0:{port}" in capsys.readouterr().out
    client = TestClient(served["app"], base_url="http://lab.example")
    assert client.get("/health").status_code == 401
    assert client.get("/health", headers={"authorization": f"Bearer {TOKEN}"}).json()["models"] == 1


def test_a_port_in_use_is_one_line(capsys, runs):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(runs["gpt"]), "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert f"--port {port}: cannot listen there" in err and len(err.splitlines()) == 1


def test_the_real_server_checks_token_and_a_streamed_body(models, live_server):
    from lmlab.serve import Limits

    server = live_server(models, token=TOKEN, local_only=True, limits=Limits(max_body_bytes=2048))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/health")
    response = connection.getresponse()
    assert response.status == 401 and "token: missing" in json.loads(response.read())["error"]
    headers = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    body = json.dumps({"model": "bert", "text": "the market [MASK] sharply", "top_k": 2})
    connection.request("POST", "/fill-mask", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200 and len(json.loads(response.read())["masks"][0]) == 2
    chunks = (b'{"model": "gpt", "text": "', b"a" * 4096, b'"}')
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/score", body=iter(chunks), headers=headers,
                       encode_chunked=True)  # no Content-Length: counted as it arrives
    response = connection.getresponse()
    assert response.status == 413 and "request body: at least" in json.loads(response.read())["error"]
