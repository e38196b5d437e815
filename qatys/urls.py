"""Which addresses may carry Qatys traffic: https, or plain http only to this machine.

Terminals and the queue-core client refuse ``http://`` to any other host unless the setting
``allow_plain_http`` is given (for labs only): a plain link shows the network everything a
signature does not hide, and lets anyone on it drop or delay answers unseen.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from qatys.sentences import Sentence

PLAIN_HTTP_SETTING = "allow_plain_http"


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (localhost, 127.0.0.0/8 or ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_problem(url: str, allow_plain_http: bool) -> Sentence | None:
    """Why ``url`` may not be used, or None when it may."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https") or not urlsplit(url).hostname:
        return Sentence("'%(url)s' is not an http(s) address", url=url)
    if scheme == "http" and not is_loopback(url) and not allow_plain_http:
        return Sentence("%(url)s is plain http to another machine: use https, or set %(setting)s "
                        "= true (for labs only)", url=url, setting=PLAIN_HTTP_SETTING)
    return None
