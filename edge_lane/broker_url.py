"""Broker URLs and MQTT over TLS, for every MQTT client we ship.

The lane edge, the mobile team device, the Frigate bridge (through `edge_lane.config`) and the
server's MQTT link (through `api.settings`) read ``mqtt://HOST:PORT`` or ``mqtts://HOST:PORT``
here, and make their TLS context here: one set of rules, one error text. Standard library
only, so the server's link process can import it without the rest of the edge.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PLAIN_PORT, TLS_PORT = 1883, 8883


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """Where a broker listens and whether the connection is TLS."""

    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerEndpoint:
    """``mqtt://HOST[:PORT]`` (default 1883) or ``mqtts://HOST[:PORT]`` (default 8883).

    Raises ValueError with a message people can act on, so a Pydantic validator may call it.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(
            "harus mqtt://HOST:PORT atau mqtts://HOST:PORT / must be mqtt:// or mqtts://"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("port tidak sah / invalid port") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("URL broker hanya HOST:PORT / a broker URL is only HOST:PORT")
    tls = parts.scheme == "mqtts"
    return BrokerEndpoint(parts.hostname, port or (TLS_PORT if tls else PLAIN_PORT), tls)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The CA to trust (None: the system's) and this client's own certificate, if any."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def any(self) -> bool:
        return any(f is not None for f in (self.ca_file, self.cert_file, self.key_file))


def check_tls_files(files: TlsFiles, *, tls: bool) -> None:
    """Refuse settings that would silently not do what they say (ValueError).

    A CA or a certificate with an ``mqtt://`` URL would be ignored and the link sent in
    clear; a key without its certificate (or the reverse) cannot log in.
    """
    if files.any and not tls:
        raise ValueError(
            "ca_file/cert_file/key_file butuh URL mqtts:// / TLS files need an mqtts:// URL"
        )
    if files.key_file is not None and files.cert_file is None:
        raise ValueError("key_file tanpa cert_file / key_file needs cert_file")
    if files.cert_file is not None and files.key_file is None:
        raise ValueError("cert_file tanpa key_file / cert_file needs key_file")


class TlsSetupError(Exception):
    """A CA, certificate or key that cannot be read or does not fit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def client_tls_context(files: TlsFiles) -> ssl.SSLContext:
    """A client context: TLS 1.2 or later, the broker's name checked against its certificate.

    With a ``ca_file`` only that CA is trusted (not the system's), so a certificate from
    another CA is refused even if it is publicly valid.
    """
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=str(files.ca_file) if files.ca_file is not None else None,
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if files.cert_file is not None:
            key = str(files.key_file) if files.key_file is not None else None
            context.load_cert_chain(str(files.cert_file), key)
    except (OSError, ssl.SSLError) as error:
        raise TlsSetupError(
            f"berkas TLS tidak terbaca / cannot load the TLS files "
            f"(ca {files.ca_file}, cert {files.cert_file}, key {files.key_file}): {error}"
        ) from None
    return context
