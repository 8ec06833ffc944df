"""The server's commands: ``serve``, ``history``, ``backup``/``restore``, ``code``, ``privacy``.

The ``drivethru`` launcher mounts them with the other packages' commands; ``python -m api``
runs them alone, which is how the benches and the tests start a server.
"""

from __future__ import annotations

import typer

from api import backup_cli, code_cli, history_cli, privacy_cli, serve


def register(app: typer.Typer) -> None:
    """Add the server's commands to a typer app."""
    serve.register(app)
    history_cli.register(app)
    backup_cli.register(app)
    code_cli.register(app)
    privacy_cli.register(app)
