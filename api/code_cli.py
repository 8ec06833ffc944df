"""``drivethru code new`` and ``drivethru code check``: pickup codes by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

code_app = typer.Typer(help="Kode pengambilan / pickup codes.", no_args_is_help=True)


@code_app.command("new")
def code_new(
    png: Annotated[Path | None, typer.Option(help="Tulis QR ke PNG / write the QR as PNG.")] = None,
    scale: Annotated[int, typer.Option(help="Piksel per modul / pixels per module.")] = 12,
) -> None:
    """Buat kode baru / make a new pickup code (printed, and as a QR if --png)."""
    import segno

    from core.codes import PickupCode

    code = PickupCode.generate()
    typer.echo(code.text)
    if png is not None:
        qr = segno.make(code.text, error="m", micro=False)
        qr.save(str(png), scale=scale, border=4)
        typer.echo(f"QR versi {qr.version} ({qr.mode}) -> {png}", err=True)


@code_app.command("check")
def code_check(code: str) -> None:
    """Periksa format kode / check a pickup code's format (exit 1 if malformed)."""
    from core.codes import PickupCode
    from core.errors import PickupCodeError

    try:
        parsed = PickupCode.parse(code)
    except PickupCodeError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"sah / valid  sha256={parsed.sha256}")


def register(app: typer.Typer) -> None:
    app.add_typer(code_app, name="code")
