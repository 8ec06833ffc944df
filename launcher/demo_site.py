"""The demo's site: permits at every stage, the cars that come for them, the config files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from api.hours import DAYS
from api.notify.store import IssuedLinks
from bench.scenes import Scheme
from bench.seed import seed_on_store
from core.contact import Contact
from core.service import PermitService
from core.settings import DEMO_NIK_KEY, ServiceSettings, StoreSettings


@dataclass(frozen=True)
class DemoCar:
    plate: str
    scheme: Scheme
    code: str | None


@dataclass(frozen=True)
class DemoSite:
    nik_key: str
    cars: dict[str, tuple[DemoCar, ...]]
    ready_on_camera: tuple[str, ...]
    """The permits that cars in the videos come for: each must be released."""


# (plate, scheme, shows its code) per lane; the last car of lane 1 has no permit at all.
_LANES: dict[str, tuple[tuple[str, Scheme, bool], ...]] = {
    "1": (
        ("DK 1234 AB", Scheme.BLACK_ON_WHITE, True),
        ("DK 77 XY", Scheme.BLACK_ON_WHITE, False),
        ("B 1907 TJQ", Scheme.WHITE_ON_BLACK, False),
    ),
    "2": (
        ("AB 4521 KD", Scheme.BLACK_ON_WHITE, True),
        ("DK 5150 UB", Scheme.WHITE_ON_BLACK, False),
        ("DK 808 CC", Scheme.BLACK_ON_WHITE, True),
    ),
}
_NO_PERMIT = "B 1907 TJQ"


def build_site(events: Path) -> DemoSite:
    """Seed the store: READY permits for the cars, and others at earlier stages."""
    settings = ServiceSettings.for_demo(StoreSettings(backend="sqlite", sqlite_path=events))
    service = PermitService(settings)
    try:
        plates = [plate for cars in _LANES.values() for plate, _, _ in cars if plate != _NO_PERMIT]
        # The links of the codes issued here reach the server's notifier (the demo's outbox).
        service.add_code_listener(IssuedLinks(events.parent / "notify.db"))
        seeded = list(
            seed_on_store(service, "badung", len(plates), seed=2018, plates=plates,
                          repeatable_codes=True, contacts=_contacts(len(plates)))
        )  # fmt: skip
        codes = {permit.plate: permit.code for permit in seeded}
        _earlier_stages(service)
        service.assign_to_team(
            _extra_ready(service), "seed", "a", "2026-12-01", "Balai Desa Abiansemal"
        )
    finally:
        service.close()
    cars = {
        lane: tuple(
            DemoCar(plate, scheme, codes.get(plate.replace(" ", "")) if shows else None)
            for plate, scheme, shows in lane_cars
        )
        for lane, lane_cars in _LANES.items()
    }
    return DemoSite(DEMO_NIK_KEY, cars, tuple(permit.id for permit in seeded))


def _contacts(count: int) -> list[Contact]:
    """Made-up contacts (example.com, unassigned numbers); every other one wants English."""
    return [
        Contact.parse(f"+6281100000{index:03d}", f"warga{index + 1}@example.com",
                      "en" if index % 2 else "id")
        for index in range(count)
    ]  # fmt: skip


def _earlier_stages(service: PermitService) -> None:
    people = [
        ("LAP-DEMO-S1", "Ni Luh Putu Sari", "DK 2020 PS", 0),
        ("LAP-DEMO-S2", "Komang Adi Putra", "DK 1818 KA", 1),
        ("LAP-DEMO-S3", "Dewa Ayu Kade", "DK 3131 DA", 2),
        ("LAP-DEMO-S4", "I Gede Wirawan", "DK 4242 GW", 3),
    ]
    for reference, name, plate, stage in people:
        permit_id = service.submit(
            site="badung", reference=reference, kind="PBG", applicant_name=name,
            nik="5103011204800009", plate=plate,
        )  # fmt: skip
        if stage >= 1:
            service.verify_documents(permit_id, "petugas-ani")
        if stage >= 2:
            service.assess_fee(permit_id, "petugas-ani", 250_000)
        if stage >= 3:
            service.record_payment(permit_id, f"RET-{reference}", 250_000)
            service.approve(permit_id, "kabid-made")


def _extra_ready(service: PermitService) -> UUID:
    """One more READY permit, for the mobile team's manifest."""
    contact = Contact.parse("+6281100000999", "warga.tim@example.com")  # its team visit's message
    permit = next(
        seed_on_store(service, "badung", 1, seed=99, plates=["DK 6060 TM"], contacts=[contact])
    )
    return UUID(permit.id)


def write_site_toml(path: Path, keys: dict[str, str]) -> None:
    lines = [
        'site = "badung"',
        'site_name = "Mal Pelayanan Publik Badung"',
        'release_on = "code_or_plate"',
        'lanes = [{lane = "1", window = "1"}, {lane = "2", window = "2"}]',
        # The demo runs whenever it is started: its site is open every day, all day.
        "[opening_hours]",
        "days = {" + ", ".join(f'{day} = "00:00-23:59"' for day in DAYS) + "}",
        # The citizens' messages go to the demo's outbox page (/demo/outbox), nowhere else.
        "[[notify]]",
        'kind = "demo_outbox"',
    ]
    for role, key in keys.items():
        lanes = '["1", "2"]' if role == "operator" else "[]"
        lines += [
            "[[api_keys]]",
            f'name = "demo-{role}"',
            f'role = "{role}"',
            f'sha256 = "{hashlib.sha256(key.encode()).hexdigest()}"',
            f"lanes = {lanes}",
        ]
    path.write_text("\n".join(lines) + "\n")


def write_lane_toml(
    path: Path, lane: str, video: Path, broker: str, protocol: str, outbox: Path, port: int
) -> Path:
    path.write_text(
        "\n".join(
            [
                'site = "badung"',
                f'lane = "{lane}"',
                f'window = "{lane}"',
                f"display_port = {port}",
                "[[cameras]]",
                'name = "window"',
                f'source = "{video}"',
                'role = "window"',
                'pace = "realtime"',
                "[broker]",
                f'url = "{broker}"',
                f'username = "lane-{lane}"',
                'password_env = "DRIVETHRU_LANE_PASSWORD"',
                f'protocol = "{protocol}"',
                "[outbox]",
                f'path = "{outbox}"',
            ]
        )
        + "\n"
    )
    return path
