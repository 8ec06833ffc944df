"""The installed package's version, said the same way by the server, the edge and the pages."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str:
    try:
        return metadata.version("drivethru")
    except metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = package_version()
