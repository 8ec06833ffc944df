"""`drivethru demo --lifecycle`: permits taken through their whole lifecycle on SQLite.

It uses the real service, the real event store file and the real projections, without the
broker, the server or the lanes.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import typer

from core.codes import mask_name
from core.errors import AlreadyHandedOverError
from core.plates import display_plate
from core.service import PermitService
from core.settings import ServiceSettings, StoreSettings
from core.values import Recipient, ReleaseMethod
from projections import queries
from projections.bootstrap import runner_for
from projections.store import ReadModels

_CITIZENS = [
    ("I Wayan Sudirta", "5103011204800001", "DK 1234 AB", "SIUP"),
    ("Ni Made Ayu Lestari", "5103024506900002", "DK 77 XY", "IMB / PBG"),
    ("Sri Rahayu", "3404016002850003", "AB 4521 KD", "SIP Dokter"),
    ("Agus Santoso", "3171011507880004", "B 1907 TJQ", "Izin Reklame"),
]


def run_lifecycle_demo(db: Path, read_models_path: Path, *, permits: int = 3) -> None:
    """Run ``permits`` applications to handover, one conflict included, and show the result."""
    for path in (db, read_models_path):
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    service = PermitService(
        ServiceSettings.for_demo(StoreSettings(backend="sqlite", sqlite_path=db))
    )
    site = "badung"
    typer.secho(f"drivethru demo — Mal Pelayanan Publik Badung  (store: {db})", bold=True)
    for index in range(permits):
        name, nik, plate, kind = _CITIZENS[index % len(_CITIZENS)]
        reference = f"LAP-2026-{index + 1:05d}"
        permit_id = service.submit(
            site=site, reference=reference, kind=kind, applicant_name=name, nik=nik, plate=plate
        )
        service.verify_documents(permit_id, "petugas-ani")
        service.assess_fee(permit_id, "petugas-ani", 150_000)
        service.record_payment(permit_id, f"RETRIBUSI-{index + 1:06d}", 150_000)
        service.approve(permit_id, "kabid-made")
        service.print_document(permit_id, "petugas-ani")
        issued = service.stage(permit_id, "runner-komang", f"R{index // 10 + 1}-{index + 1:02d}")
        holder = service.resolve_code(issued.code, site=site)
        visit = uuid.uuid4()
        service.release(
            permit_id, lane="1", window="1", visit=visit, method=ReleaseMethod.CODE,
            code_sha256=issued.code_sha256,
        )  # fmt: skip
        service.hand_over(
            permit_id, handover_id=f"ho-{index}", by="operator-jendela-1",
            recipient=holder.recipient, id_checked=True, channel="lane:1",
        )  # fmt: skip
        typer.echo(
            f"\n{reference}  {kind}  {mask_name(name)}  {display_plate(plate)}  "
            f"kode {issued.code[:8]}…"
        )
        for event, at in service.history(permit_id):
            typer.echo(f"  {at:%H:%M:%S.%f}  {event}")
        if index == 0:
            try:
                service.hand_over(
                    permit_id, handover_id="ho-second-window", by="operator-jendela-2",
                    recipient=Recipient.OWNER, id_checked=True, channel="lane:2",
                )  # fmt: skip
            except AlreadyHandedOverError as refused:
                typer.secho(f"  konflik tercatat / conflict recorded: {refused.message}", fg="red")
    asyncio.run(_show_read_models(service, read_models_path, site))
    service.close()


async def _show_read_models(service: PermitService, path: Path, site: str) -> None:
    async with ReadModels(path) as models:
        runner = runner_for(service, models)
        result = await runner.catch_up()
        typer.secho(
            f"\nRead model ({path}): {result.events} event, posisi / position {result.position}",
            bold=True,
        )
        counts = await queries.site_counts(models.conn, site)
        typer.echo(f"  {site}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        for status in ("handed_over", "ready"):
            for row in await queries.permits_by_status(models.conn, site, status):
                typer.echo(
                    f"  {row.number:<16} {row.status:<12} {row.holder:<22} "
                    f"{display_plate(row.plate or '-'):<12} slot {row.slot}  "
                    f"konflik/conflicts {row.conflicts}"
                )
