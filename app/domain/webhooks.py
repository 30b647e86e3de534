"""Webhook rules: signatures, retry schedule, and which target addresses are allowed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

from app.domain.events import webhook_names

# Every name webhooks may subscribe to: each event kind's `webhook_name` (app.domain.events), so a kind
# offered to webhooks is listed by its own definition. The README's event catalogue lists them all.
WEBHOOK_EVENTS: tuple[str, ...] = tuple(sorted(set(webhook_names().values())))
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=2)
# An endpoint whose deliveries have all failed for this long is disabled and the admins told.
DISABLE_AFTER = timedelta(hours=24)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex-encoded, as sent in X-CRM-Signature (v1=…)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, received: str, now: int, tolerance: int = 300) -> bool:
    """The receiver's side of the recipe in the README (also used by our tests)."""
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, received.removeprefix("v1="))


def next_attempt(first_attempt_at: datetime, attempts: int, now: datetime,
                 first_retry: timedelta = FIRST_RETRY) -> datetime | None:
    """Exponential backoff (30 s, 1 min, 2 min, … capped at 2 h) for up to 24 h after the first try."""
    delay = min(first_retry * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    at = now + delay
    return at if at - first_attempt_at <= RETRY_WINDOW else None


# Not globally routable although Python's `is_global` cannot tell from the IPv6 address alone: these
# carry an IPv4 address, which is what the packets finally reach.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, cloud metadata (100.100.100.200)
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: never global
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped, 6to4, Teredo (server and client),
    NAT64 (well-known /96 and the local-use /48, both RFC 6052 layouts) and IPv4-compatible."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    value = int(ip)
    compatible = ip in IPV4_COMPATIBLE and value > 1  # :: and ::1 are IPv6's own unspecified and loopback
    if ip in NAT64_WELL_KNOWN or compatible or ip in NAT64_LOCAL_USE:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if ip in NAT64_LOCAL_USE:  # /48 layout: bits 48-63 and 72-87 (bits 64-71 are the reserved u-octet)
        packed = ip.packed
        found.append(ipaddress.IPv4Address(packed[6:8] + packed[9:11]))
    return found


def _own_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_loopback:
        return "loopback addresses are not allowed"
    if ip.is_link_local:
        return "link-local addresses are not allowed"
    if ip.version == 4 and ip in SHARED_ADDRESS_SPACE:
        return "shared address space (100.64.0.0/10: carrier-grade NAT, cloud metadata) is not allowed"
    if ip.is_multicast or ip.is_unspecified:
        return "multicast and unspecified addresses are not allowed"
    if not ip.is_global or (ip.version == 6 and ip in NAT64_LOCAL_USE):
        return "private, reserved or otherwise not globally routable addresses are not allowed"
    return None


def address_refusal(address: str) -> str | None:
    """Why a resolved target address is refused (server-side request forgery guard), or None.

    Only globally routable destinations pass: `is_global` on the address and on every IPv4 address
    embedded in it (an IPv6 form can lead to 127.0.0.1 or 10.0.0.1 while looking global itself)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in embedded_ipv4(ip):
            inner_refusal = _own_refusal(inner)
            if inner_refusal is not None:
                return f"{inner_refusal} ({ip} leads to {inner})"
    return _own_refusal(ip)
