"""The HTTP access token: what `[http] token` guards, and how a script or a browser presents it.

A script sends `Authorization: Bearer <token>`. A browser cannot add that header to a page load or to
its EventSource, so `/?token=<token>` answers with a session cookie and a redirect to `/` (the token
leaves the address bar and the history); the page's `fetch` and `EventSource` then carry the cookie, as
same-origin requests do. The cookie holds an HMAC of the token, not the token, and dies with the browser
session or a new token. Every comparison is constant-time.

Open without the token: `/healthz` (process managers probe it), the MYST intake route (its own
X-Internal-Secret; one secret is enough), and with `open_monitoring` also `/metrics` and `/readyz`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "corral_session"
OPEN_PATHS = frozenset({"/healthz"})
MONITORING_PATHS = frozenset({"/metrics", "/readyz"})

_LOGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>corral: access token needed</title>
<p>This corral dashboard needs its access token (the daemon's <code>[http] token</code>):
open <code>/?token=YOUR_TOKEN</code> once, and this browser keeps a session cookie.</p>"""


def session_value(token: str) -> str:
    """What the cookie holds: proof of the token without the token."""
    return hmac.new(token.encode(), b"corral dashboard session", hashlib.sha256).hexdigest()


class TokenGuard:
    """ASGI middleware (not starlette's BaseHTTPMiddleware, which would buffer the dashboard's event stream)."""

    def __init__(self, app: ASGIApp, token: str, *, open_monitoring: bool = False,
                 own_auth_prefixes: Iterable[str] = ()) -> None:
        if not token:
            raise ValueError("TokenGuard needs a token")
        self.app = app
        self.token = token.encode()
        self.session = session_value(token).encode()
        self.open_paths = OPEN_PATHS | (MONITORING_PATHS if open_monitoring else frozenset())
        self.own_auth_prefixes = tuple(own_auth_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._open(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.url.path == "/" and "token" in request.query_params:
            await self._login(request, request.query_params["token"])(scope, receive, send)
        elif self._authorised(request):
            await self.app(scope, receive, send)
        else:
            await self._refuse(request)(scope, receive, send)

    def _open(self, path: str) -> bool:
        return path in self.open_paths or any(
            path == p or path.startswith(p + "/") for p in self.own_auth_prefixes)

    def _authorised(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session)

    def _login(self, request: Request, offered: str) -> Response:
        """`/?token=`: a session cookie and the same page without the token in its URL (and history)."""
        if not hmac.compare_digest(offered.encode(), self.token):
            return self._refuse(request)
        page = RedirectResponse("./", status_code=303)
        page.set_cookie(COOKIE, self.session.decode(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
        return page

    def _refuse(self, request: Request) -> Response:
        if request.url.path == "/":
            return HTMLResponse(_LOGIN_PAGE, status_code=401)
        return JSONResponse({"ok": False, "message": "missing or wrong access token: send 'Authorization: Bearer "
                                                     "<token>' (the daemon's [http] token)"},
                            status_code=401, headers={"WWW-Authenticate": 'Bearer realm="corral"'})
