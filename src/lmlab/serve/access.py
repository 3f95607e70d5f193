"""Who may talk to ``lmlab serve`` (issue 23, "safe by default").

* The server binds 127.0.0.1 unless told otherwise; any other address needs a token
  (``--token`` or ``LMLAB_SERVE_TOKEN``), checked on every request: 401 without it.
* A client gives the token as ``Authorization: Bearer <token>``; a browser opens
  ``/?token=<token>`` once and keeps it in an HttpOnly, SameSite=Strict cookie, so the
  playground and ``/docs`` work on a remote host too.
* A server bound to this machine answers only requests whose Host header names this
  machine (127.0.0.1, localhost, [::1]): a web page cannot reach it by DNS rebinding.
"""

from __future__ import annotations

import hmac
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from lmlab.errors import ConfigError
from lmlab.serve.limits import RequestError, send_json

TOKEN_ENV = "LMLAB_SERVE_TOKEN"
COOKIE = "lmlab_serve_token"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{8,}")


def is_local(host: str) -> bool:
    return host.strip("[]") in LOCAL_HOSTS


def check_binding(host: str, token: str | None) -> None:
    """A one-line ConfigError for a token that is malformed or missing where it is needed."""
    if token is not None and not _TOKEN_PATTERN.fullmatch(token):
        raise ConfigError(f"--token ({TOKEN_ENV}): expected at least 8 characters from A-Z a-z "
                          f"0-9 . _ ~ - (e.g. python -c 'import secrets; "
                          f"print(secrets.token_urlsafe(24))')")
    if not is_local(host) and not token:
        raise ConfigError(f"--host {host}: serving beyond this machine needs a token; give "
                          f"--token T or set {TOKEN_ENV} (clients send 'Authorization: "
                          f"Bearer T'), or keep the default --host 127.0.0.1")


def _host_name(header: str) -> str:
    """``127.0.0.1:8000`` -> ``127.0.0.1``; ``[::1]:8000`` -> ``::1``."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Access:
    """ASGI middleware: the Host guard (``local_only``) and the token check (``token``)."""

    def __init__(self, app, token: str | None, local_only: bool):
        self.app = app
        self.token = token
        self.local_only = local_only

    def _given(self, headers: dict, query: dict) -> tuple[str | None, bool]:
        """(the token the request carries, whether it came in the URL)."""
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip(), False
        if b"cookie" in headers:
            cookie = SimpleCookie()
            cookie.load(headers[b"cookie"].decode("latin-1"))
            if COOKIE in cookie:
                return cookie[COOKIE].value, False
        if "token" in query:
            return query["token"][0], True
        return None, False

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.local_only:
            host = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in LOCAL_HOSTS:
                return await send_json(send, RequestError(
                    400, f"Host {host!r}: this server answers only requests addressed to "
                         f"127.0.0.1 or localhost (it is bound to this machine)"))
        if self.token is None:
            return await self.app(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given, in_url = self._given(headers, query)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            what = "missing" if given is None else "wrong"
            return await send_json(send, RequestError(
                401, f"token: {what}; send 'Authorization: Bearer <token>' (the server's "
                     f"--token or {TOKEN_ENV}), or open /?token=<token> in a browser"),
                headers=((b"www-authenticate", b"Bearer"),))
        if not in_url:
            return await self.app(scope, receive, send)
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
