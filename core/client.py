"""Who is calling: the client's address, for every per-address limit (HTTP and WebSocket).

X-Forwarded-For is trusted only as far as our own proxies wrote it. Behind ``TRUSTED_PROXIES``
= N reverse proxies, each appends the address it received the request from, so the client is the
N-th entry from the right; entries further left were sent by the client and prove nothing. With
0 (the default: nothing in front of the server) the header is ignored and the peer address is the
client. IPv6 clients are counted by their /64 network, which one subscriber usually holds whole.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def address_from(peer: str | None, forwarded_for: str | None, proxies: int | None = None) -> str:
    """The client's address given the peer address and the X-Forwarded-For header."""
    proxies = settings.TRUSTED_PROXIES if proxies is None else proxies
    peer = _valid(peer or "") or ""
    if proxies <= 0 or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if not hops:
        return peer
    # Fewer entries than proxies: the request skipped some; the leftmost entry is still one
    # a proxy of ours wrote.
    return _valid(hops[-min(proxies, len(hops))]) or peer


def client_address(request: HttpRequest) -> str:
    """The address of an HTTP request's client (see the module docstring)."""
    return address_from(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def scope_address(scope: dict) -> str:
    """The address of an ASGI connection's client (WebSocket or HTTP scope)."""
    peer = (scope.get("client") or ("", 0))[0]
    forwarded = None
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            # Several headers are one list, in order (RFC 9110 §5.3).
            text = value.decode("latin-1")
            forwarded = f"{forwarded}, {text}" if forwarded else text
    return address_from(peer, forwarded)


def address_key(address: str) -> str:
    """What a per-address limit counts: the address, or an IPv6 address's /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_key(request: HttpRequest) -> str:
    """Who a per-client limit counts for a request: the signed-in user, else the address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{address_key(client_address(request))}"


def scope_client_key(scope: dict) -> str:
    """``client_key`` for an ASGI connection (its scope's user, else its address)."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{address_key(scope_address(scope))}"
