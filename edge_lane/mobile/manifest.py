"""What the device remembers of its manifests, and how a new manifest is taken in (pure).

A code that leaves the manifest is remembered as *retired* with the reason the device can
infer: the permit is still assigned but under another hash (the code was reissued or the
authorisation withdrawn), or the permit left the team altogether (handed over elsewhere,
withdrawn from the team, cancelled). So an old code scanned offline is refused with a reason
instead of "unknown".
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.contract import TeamManifest, TeamPermit

# Retired codes kept; the oldest go first. A team's day is a few hundred permits.
MAX_RETIRED = 5_000


class RetiredCode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    permit_id: str
    number: str
    why: Literal["reissued", "withdrawn"]
    since: AwareDatetime


class DeviceManifest(BaseModel):
    """The newest manifest and the codes that earlier manifests had; stored encrypted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    manifest: TeamManifest | None = None
    received_at: AwareDatetime | None = None
    retired: dict[str, RetiredCode] = Field(default_factory=dict)

    def permits(self) -> list[TeamPermit]:
        return [] if self.manifest is None else list(self.manifest.permits)


def code_owners(manifest: TeamManifest | None) -> dict[str, TeamPermit]:
    """Every code hash of a manifest (owners' and delegates') with its permit."""
    if manifest is None:
        return {}
    owners: dict[str, TeamPermit] = {}
    for permit in manifest.permits:
        owners[permit.code_sha256] = permit
        for delegate in permit.delegates:
            owners[delegate.code_sha256] = permit
    return owners


def absorb(state: DeviceManifest, manifest: TeamManifest, now: datetime) -> DeviceManifest:
    """``state`` after receiving ``manifest``; an older manifest than the one held is ignored."""
    current = state.manifest
    if current is not None and (manifest.id == current.id or manifest.at < current.at):
        return state
    new_owners = code_owners(manifest)
    still_assigned = {permit.permit_id for permit in manifest.permits}
    retired = {h: r for h, r in state.retired.items() if h not in new_owners}
    for code_hash, permit in code_owners(current).items():
        if code_hash in new_owners:
            continue
        why: Literal["reissued", "withdrawn"] = (
            "reissued" if permit.permit_id in still_assigned else "withdrawn"
        )
        retired[code_hash] = RetiredCode(
            permit_id=permit.permit_id, number=permit.number, why=why, since=now
        )
    if len(retired) > MAX_RETIRED:
        retired = dict(list(retired.items())[-MAX_RETIRED:])
    return DeviceManifest(manifest=manifest, received_at=now, retired=retired)
