"""The server's commands: ``serve``, ``history``, ``backup``/``restore``, ``code``, ``privacy``.

The ``drivethru`` launcher mounts them with the other packages' commands; ``python -m api``
runs them alone, which is how the benches and the tests start a server.
"""

from __future__ import annotations

import typer

from api import code_cli


def register(app: typer.Typer) -> bool:
    """Add the server's commands to a typer app; False when only ``code`` could be added.

    The server commands need the server extra; an edge box installed without it still has
    ``code``.
    """
    code_cli.register(app)
    try:
        from api import backup_cli, history_cli, privacy_cli, serve
    except ImportError:
        return False
    serve.register(app)
    history_cli.register(app)
    backup_cli.register(app)
    privacy_cli.register(app)
    return True
