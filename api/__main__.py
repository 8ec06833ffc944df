"""``python -m api``: the server's own commands (``drivethru`` has every package's)."""

import typer

from api.commands import register

app = typer.Typer(
    help="Server drivethru / the drivethru server's commands.",
    no_args_is_help=True,
    add_completion=False,
)
register(app)
app()
