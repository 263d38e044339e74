"""The HTTP POST of a webhook (urllib, standard library) and its guard against internal targets.

The guard (SSRF) has two layers: the host name is resolved and refused if any address is not
public, and after the socket connects its peer address is checked again, so a DNS answer that
changes between the two (rebinding) still cannot reach an internal service. Redirects are not
followed (a 3xx is a failed attempt) and proxies from the environment are ignored, so the checked
address is the one that receives the request.
"""

import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 5.0
ERROR_CHARS = 500


class DestinationRefused(OSError):
    """The URL resolves to a private, loopback, link-local or otherwise non-public address."""


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_refusal(host: str) -> str | None:
    """Why ``host`` may not be a webhook target without resolving it, or None if it may be."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback name"
    try:
        public = address_is_public(host)
    except ValueError:
        return None  # a DNS name: judged when it is resolved, at delivery time
    return None if public else f"{host} is not a public address"


def _check_resolved(host: str, port: int) -> None:
    refusal = host_refusal(host)
    if refusal:
        raise DestinationRefused(refusal)
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if not address_is_public(sockaddr[0]):
            raise DestinationRefused(f"{host} resolves to {sockaddr[0]}, not a public address")


def _check_peer(connection: http.client.HTTPConnection) -> None:
    peer = connection.sock.getpeername()[0]
    if not address_is_public(peer):
        connection.close()
        raise DestinationRefused(f"{connection.host} connected to {peer}, not a public address")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        _check_resolved(self.host, self.port)
        super().connect()
        _check_peer(self)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        _check_resolved(self.host, self.port)
        super().connect()
        _check_peer(self)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


def _opener(*, allow_private: bool) -> urllib.request.OpenerDirector:
    handlers = [urllib.request.ProxyHandler({}), _NoRedirect()]
    if not allow_private:
        handlers += [_GuardedHTTPHandler(), _GuardedHTTPSHandler()]
    return urllib.request.build_opener(*handlers)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def post_json(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> PostResult:
    """POST ``body`` to ``url``; never raises for network or HTTP failures, it reports them."""
    if urlsplit(url).scheme not in ("http", "https"):
        return PostResult(None, f"refused: {url} is not an http(s) URL", refused=True)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener(allow_private=allow_private).open(request, timeout=TIMEOUT_SECONDS) as resp:
            return PostResult(resp.status, "")
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace") if exc.fp else ""
        exc.close()
        return PostResult(exc.code, f"HTTP {exc.code} {exc.reason} {detail}".strip()[:ERROR_CHARS])
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, DestinationRefused):
            return PostResult(None, f"refused: {exc.reason}", refused=True)
        return PostResult(None, _describe(exc.reason if isinstance(exc.reason, Exception) else exc))
    except DestinationRefused as exc:
        return PostResult(None, f"refused: {exc}", refused=True)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # Timeouts, resets, malformed responses: all are a failed attempt, to be retried.
        return PostResult(None, _describe(exc))
