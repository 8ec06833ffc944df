"""The FastAPI application: routes, pages, error handlers and static files."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.notify import contact_page, demo_page
from api.pages import auth, dashboard, office
from api.pages import citizen as citizen_page
from api.pages import complaints as complaints_page
from api.pages import here as here_page
from api.pages import lanes as lane_pages
from api.pages import window as window_pages
from api.routes import applications, citizen, history, lanes, system
from api.routes import complaints as complaint_routes
from api.routes import queue as queue_routes
from api.routes import window as window_routes
from api.settings import ServerSettings
from core.version import VERSION

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def routed_app(settings: ServerSettings, lifespan: Lifespan) -> FastAPI:
    """The app's routes and pages for ``settings``; ``lifespan`` runs the server around it
    (`api.bootstrap.build_server`)."""
    app = FastAPI(
        title="drivethru",
        summary="Ambil izin tanpa turun dari mobil / drive-through permit pickup",
        version=VERSION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # The pages' /p/{code} comes before the JSON one: it serves HTML to browsers, JSON otherwise.
    for page in (auth, citizen_page, lane_pages, office, dashboard):
        app.include_router(page.router)
    for module in (applications, history, lanes, citizen, system):
        app.include_router(module.router)
    app.include_router(here_page.router)
    app.include_router(contact_page.router)
    if settings.service.demo:  # the demo's outbox page: never in production
        app.include_router(demo_page.router)
    app.include_router(queue_routes.router)
    app.include_router(complaints_page.router)
    app.include_router(complaint_routes.router)
    app.include_router(window_routes.router)
    app.include_router(window_pages.router)
    app.mount("/static", StaticFiles(packages=[("api", "static")]), name="static")
    return app
