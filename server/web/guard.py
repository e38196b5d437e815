"""What every answer of the server carries, and where a request comes from.

- Headers on every response: a Content-Security-Policy that allows only the server's own
  scripts and styles (no inline code: the pages load theirs from static files), no framing,
  no plugins; ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, and
  ``Strict-Transport-Security`` when the public URL is https.
- The client address (for rate limits) is the socket peer; only when that peer is one of the
  configured ``trusted_proxies`` is the address its ``X-Forwarded-For`` names taken instead
  (werkzeug's ProxyFix, one hop).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from server.context import ServerContext

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000"


def install(app: Flask, public_url: str, trusted_proxies: Iterable[str]) -> None:
    https = public_url.startswith("https://")

    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    app.after_request(headers)
    proxies = tuple(trusted_proxies)
    if proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)  # type: ignore[method-assign]


class TrustedProxies:
    """ProxyFix for requests whose socket peer is a trusted proxy, and only for those: anyone
    else could otherwise pick their own address by sending X-Forwarded-For."""

    def __init__(self, app: WSGIApplication, proxies: Iterable[str]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)
        self.networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return self.app(environ, start_response)
        if any(peer in network for network in self.networks):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def secure_cookies(context: ServerContext) -> bool:
    """Cookies only over https when the server is reached over https (its public URL, or this
    request)."""
    return context.config.public_url.startswith("https://") or request.is_secure
