"""The server's composition root: settings in, the running server out.

`build_server` is the one place the server is put together: the app, and the runtime its
lifespan starts (store, read models, bridge, jobs, feedback file) and stops. `drivethru
serve` runs it (`run_server`), and the tests' in-process server is built by it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.app import routed_app
from api.runtime import start_runtime, stop_runtime
from api.security import KeyRing, session_secret
from api.settings import ServerSettings
from edge_lane.logs import setup_logging


def build_server(settings: ServerSettings) -> FastAPI:
    """The server for one site; its runtime starts with the app and stops with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = await start_runtime(settings)
        try:
            yield
        finally:
            await stop_runtime(app.state.runtime)

    app = routed_app(settings, lifespan)
    app.state.keyring = KeyRing(
        settings.api_keys, session_secret(settings.service.nik_key.get_secret_value())
    )
    return app


def run_server(settings: ServerSettings) -> None:
    """Serve HTTP until stopped, with the logging the settings ask for."""
    import uvicorn

    setup_logging(settings.log_format, context={"site": settings.site})
    uvicorn.run(
        build_server(settings), host=settings.host, port=settings.port, log_level="warning",
        # uvicorn's lines go through the one setup above, in the same format.
        log_config=None,
    )  # fmt: skip
