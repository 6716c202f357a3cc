"""Where a webhook may point (no Django here). A webhook URL is a request the server makes on a
tenant's behalf, so by default it may reach only public internet addresses: loopback, link-local
(cloud metadata at 169.254.169.254), private, shared (CGNAT), unspecified, multicast and reserved
addresses are refused, also inside IPv6 forms (``::ffff:10.0.0.1``, 6to4). The operator turns this off
with ``WEBHOOK_ALLOW_PRIVATE=true`` for local development.

``url_refusal`` vets a URL when it is registered; ``post`` vets the addresses again at every delivery
and connects to the vetted address itself (pinned), so a DNS answer that changes between the check
and the connection cannot lead it elsewhere. ``post`` never follows redirects and never uses a proxy."""

import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")]
_SIXTOFOUR = ipaddress.ip_network("2002::/16")


class Refused(Exception):
    """The URL may not be called: ``str(exc)`` says why."""


_BROADCAST = ipaddress.ip_address("255.255.255.255")


def address_refusal(ip: IPAddress) -> str | None:
    """What makes ``ip`` an address a webhook may not reach (``"a loopback address"``), or None."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped or (ip.sixtofour if ip in _SIXTOFOUR else None)
        if embedded is not None:
            reason = address_refusal(embedded)
            return f"an IPv6 form of {embedded}, {reason}" if reason else None
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip == _BROADCAST:
        return "a broadcast address"
    if ip in _CGNAT:
        return "a shared (CGNAT) address"
    if any(ip in network for network in _PRIVATE):
        return "a private address"
    if ip.is_reserved or ip.is_private or not ip.is_global:
        return "a reserved or special-purpose address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # a zone id (fe80::1%eth0) names no other host
    except ValueError:
        return None


def _is_localhost(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order (``socket.gaierror`` if none)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


def vet(host: str, addresses: list[IPAddress]) -> None:
    """Raise ``Refused`` if any address ``host`` resolved to is not public."""
    for ip in addresses:
        reason = address_refusal(ip)
        if reason:
            if _literal(host) is not None:
                raise Refused(f"{host} is {reason}")
            raise Refused(f"{host} resolves to {ip}, {reason}")


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be registered as a webhook, or None. A literal address and ``localhost``
    are judged at once; a name is resolved and every address vetted. A name that does not resolve
    (now) is accepted: delivery resolves and vets it again each time."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs are allowed"
    host = parts.hostname or ""
    if not host:
        return "the URL names no host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the URL's port is not valid"
    if allow_private:
        return None
    if _is_localhost(host):
        return f"{host} is a loopback name"
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        return None
    try:
        vet(host, addresses)
    except Refused as exc:
        return str(exc)
    return None


# --- posting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one POST came to: the status code (None if there was no answer) and an error text
    (empty for a 2xx). ``refused``: the guard stopped it and nothing was sent."""

    status: int | None
    error: str = ""
    refused: bool = False


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Sends ``Host: <host>`` but connects to the vetted ``address``."""

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def _socket(self) -> socket.socket:
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connect(self) -> None:
        self.sock = self._socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS to the vetted address, with SNI and the certificate checked for the URL's host name."""

    default_port = 443

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, address=address, timeout=timeout)
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        self.sock = self.tls.wrap_socket(self._socket(), server_hostname=self.host)


def _cut(connection: http.client.HTTPConnection, fired: threading.Event) -> None:
    fired.set()
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in another thread
        except OSError:
            pass


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout: float) -> Answer:
    """POST ``body`` to ``url`` once: resolve, vet every address (unless ``allow_private``), connect
    to a vetted one, and give up after ``timeout`` seconds in all (connect, send, answer). A redirect
    is an answer like any other (its status), never followed; no proxy is consulted."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return Answer(None, f"not an http(s) URL: {url[:200]}", refused=True)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return Answer(None, "the URL's port is not valid", refused=True)
    if not allow_private and _is_localhost(host):
        return Answer(None, f"refused: {host} is a loopback name (WEBHOOK_ALLOW_PRIVATE is off)", refused=True)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        return Answer(None, f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    if not allow_private:
        try:
            vet(host, addresses)
        except Refused as exc:
            return Answer(None, f"refused: {exc} (WEBHOOK_ALLOW_PRIVATE is off)", refused=True)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    last_error = "no address to connect to"
    for address in addresses:
        connection = kind(host, port, address=address, timeout=timeout)
        fired = threading.Event()
        deadline = threading.Timer(timeout, _cut, args=(connection, fired))
        deadline.daemon = True
        deadline.start()
        sent = False
        try:
            connection.connect()
            sent = True
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)  # the answer's body is not needed; don't wait for a huge one
            if 200 <= response.status < 300:
                return Answer(response.status)
            if 300 <= response.status < 400:
                return Answer(response.status, f"HTTP {response.status}: redirect not followed")
            return Answer(response.status, f"HTTP {response.status}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last_error = f"timed out after {timeout:g} s" if fired.is_set() else (str(exc) or type(exc).__name__)
            if sent:  # the request may have gone out: don't send it to a second address
                break
        finally:
            deadline.cancel()
            connection.close()
    return Answer(None, last_error[:500])
