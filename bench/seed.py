"""Permits taken to READY through the real service, for load runs, tests and the demo.

One JSON line per permit with its pickup code: the only place besides the citizen's page
where a code is shown.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

from core.codes import PREFIX, PickupCode
from core.contact import Contact
from core.service import PermitService

_REGIONS = ("DK", "DK", "DK", "B", "AB", "L", "D")
_NAMES = (
    "I Wayan Sudirta", "Ni Made Ayu Lestari", "I Ketut Arta", "Ni Luh Putu Sari",
    "Agus Santoso", "Sri Rahayu", "Komang Adi Putra", "Dewa Ayu Kade",
)  # fmt: skip
_KINDS = ("SIUP", "PBG", "Izin Reklame", "SIP Dokter", "NIB", "Izin Usaha Mikro")


@dataclass(frozen=True, slots=True)
class SeededPermit:
    id: str
    number: str
    plate: str
    slot: str
    code: str


def plate_for(index: int, rng: random.Random) -> str:
    region = _REGIONS[index % len(_REGIONS)]
    suffix = "".join(rng.choice("ABCEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 2)))
    return f"{region} {rng.randint(1, 9999)} {suffix}"


def seed_on_store(
    service: PermitService,
    site: str,
    ready: int,
    seed: int = 7,
    *,
    plates: Sequence[str] = (),
    repeatable_codes: bool = False,
    contacts: Sequence[Contact] = (),
) -> Iterator[SeededPermit]:
    """Take ``ready`` new applications through every stage to READY, directly on a store.

    ``plates`` name the first permits' plates and ``contacts`` their contacts (for the
    notifier); ``repeatable_codes`` derives the pickup codes from ``seed`` so that a demo's
    generated videos can show the same codes run after run.
    """
    rng = random.Random(seed)
    start = service.recorder.max_notification_id() or 0
    for index in range(ready):
        reference = f"SEED-{site}-{start}-{index:05d}"
        plate = plates[index] if index < len(plates) else plate_for(index, rng)
        permit_id = service.submit(
            site=site, reference=reference, kind=rng.choice(_KINDS),
            applicant_name=rng.choice(_NAMES), nik=f"5103{rng.randint(0, 10**12 - 1):012d}",
            plate=plate, number=f"MPP/{site.upper()}/2026/{start + index:06d}",
            contact=contacts[index] if index < len(contacts) else None,
        )  # fmt: skip
        service.verify_documents(permit_id, "seed")
        fee = rng.choice((0, 50_000, 150_000, 250_000))
        service.assess_fee(permit_id, "seed", fee)
        if fee:
            service.record_payment(permit_id, f"PAY-{reference}", fee)
        service.approve(permit_id, "seed")
        service.print_document(permit_id, "seed")
        slot = f"R{index // 50 + 1}-{index % 50 + 1:02d}"
        code = None
        if repeatable_codes:
            body = base64.b32encode(rng.randbytes(16)).decode().rstrip("=")
            code = PickupCode.parse(f"{PREFIX}{body}")
        issued = service.stage(permit_id, "seed", slot, code=code)
        snapshot = service.get(permit_id)
        yield SeededPermit(str(permit_id), snapshot.number, snapshot.plate or "", slot, issued.code)


def seed_through_api(
    base: str, key: str, site: str, ready: int, seed: int = 7
) -> Iterator[SeededPermit]:
    """The same, through a running server's API (an officer's key)."""
    rng = random.Random(seed)

    def call(path: str, body: dict[str, object]) -> dict[str, object]:
        request = urllib.request.Request(
            base.rstrip("/") + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, object] = json.loads(response.read())
        return answer

    token = rng.randrange(10**9)
    for index in range(ready):
        reference = f"SEED-{site}-{token}-{index:05d}"
        plate = plate_for(index, rng)
        permit = call("/api/applications", {
            "site": site, "reference": reference, "kind": rng.choice(_KINDS),
            "applicant_name": rng.choice(_NAMES), "nik": f"5103{rng.randint(0, 10**12 - 1):012d}",
            "plate": plate,
        })  # fmt: skip
        base_path = f"/api/applications/{permit['id']}"
        call(f"{base_path}/verify", {})
        fee = rng.choice((0, 50_000, 150_000))
        call(f"{base_path}/fee", {"amount_rupiah": fee})
        if fee:
            call(f"{base_path}/payment", {"reference": f"PAY-{reference}", "amount_rupiah": fee})
        call(f"{base_path}/approve", {})
        call(f"{base_path}/print", {})
        slot = f"R{index // 50 + 1}-{index % 50 + 1:02d}"
        staged = call(f"{base_path}/stage", {"slot": slot})
        staged_permit = staged["permit"]
        if not isinstance(staged_permit, dict):
            raise TypeError("unexpected answer from the server")
        yield SeededPermit(
            str(permit["id"]),
            str(staged_permit["number"]),
            str(staged_permit["plate"]),
            slot,
            str(staged["code"]),
        )


def as_json_line(permit: SeededPermit) -> str:
    return json.dumps(asdict(permit))
