"""Offline verification of pickup codes on a mobile team's device (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.codes import PickupCode
from core.contract import ManifestDelegate, TeamManifest, TeamPermit
from edge_lane.mobile.manifest import DeviceManifest, absorb
from edge_lane.mobile.verify import Accepted, RefusalReason, Refused, verify_code

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def code() -> PickupCode:
    return PickupCode.generate()


def permit(permit_id: str, owner: PickupCode, *delegates: ManifestDelegate) -> TeamPermit:
    return TeamPermit(
        permit_id=permit_id, number=f"MPP/{permit_id}", holder="I W***** S******",
        nik_masked="5103********0001", plate="DK1234AB", code_sha256=owner.sha256,
        delegates=list(delegates), place="Balai Desa Mengwi", date="2026-05-04",
    )  # fmt: skip


def delegate(code_: PickupCode, expires_at: datetime) -> ManifestDelegate:
    return ManifestDelegate(
        delegate_id=code_.sha256[:12], name="N* M*** A**", nik_masked="5103********0002",
        code_sha256=code_.sha256, expires_at=expires_at,
    )  # fmt: skip


def manifest(*permits: TeamPermit, at: datetime = NOW) -> TeamManifest:
    return TeamManifest(team="a", permits=list(permits), at=at)


def holding(*permits: TeamPermit) -> DeviceManifest:
    return absorb(DeviceManifest(), manifest(*permits), NOW)


def test_the_owners_code_opens_its_permit_with_the_owners_identity_check() -> None:
    owner = code()
    verdict = verify_code(owner.sha256, holding(permit("p1", owner)), {}, NOW)
    assert isinstance(verdict, Accepted)
    assert verdict.permit.permit_id == "p1"
    assert verdict.recipient == "owner"
    assert "5103********0001" in verdict.identity_check_id


def test_a_delegates_code_opens_the_permit_for_the_delegate_until_it_expires() -> None:
    owner, proxy = code(), code()
    state = holding(permit("p1", owner, delegate(proxy, NOW + timedelta(hours=1))))
    verdict = verify_code(proxy.sha256, state, {}, NOW)
    assert isinstance(verdict, Accepted)
    assert verdict.recipient == "delegate"
    assert verdict.delegate is not None
    assert verdict.delegate.delegate_id == proxy.sha256[:12]
    assert "surat kuasa" in verdict.identity_check_id
    late = verify_code(proxy.sha256, state, {}, NOW + timedelta(hours=1))
    assert late == Refused(RefusalReason.EXPIRED, "p1", "MPP/p1")


def test_an_unknown_code_is_refused() -> None:
    verdict = verify_code(code().sha256, holding(permit("p1", code())), {}, NOW)
    assert isinstance(verdict, Refused)
    assert verdict.reason is RefusalReason.UNKNOWN
    assert "tidak dikenal" in verdict.message_id
    assert "Unknown" in verdict.message_en


def test_without_any_manifest_every_code_is_refused_with_that_reason() -> None:
    verdict = verify_code(code().sha256, DeviceManifest(), {}, NOW)
    assert verdict == Refused(RefusalReason.NO_MANIFEST)


def test_a_reissued_code_is_refused_as_reissued_and_the_new_one_accepted() -> None:
    old, new = code(), code()
    state = holding(permit("p1", old))
    state = absorb(state, manifest(permit("p1", new), at=NOW + timedelta(minutes=5)), NOW)
    assert verify_code(old.sha256, state, {}, NOW) == Refused(
        RefusalReason.REISSUED, "p1", "MPP/p1"
    )
    assert isinstance(verify_code(new.sha256, state, {}, NOW), Accepted)


def test_a_permit_gone_from_the_manifest_is_refused_as_withdrawn() -> None:
    gone = code()
    state = holding(permit("p1", gone), permit("p2", code()))
    state = absorb(state, manifest(permit("p2", code()), at=NOW + timedelta(minutes=1)), NOW)
    verdict = verify_code(gone.sha256, state, {}, NOW)
    assert verdict == Refused(RefusalReason.WITHDRAWN, "p1", "MPP/p1")


def test_a_permit_handed_over_on_this_device_is_refused_even_after_it_left_the_manifest() -> None:
    owner = code()
    state = holding(permit("p1", owner))
    handed = {"p1": NOW}
    assert verify_code(owner.sha256, state, handed, NOW) == Refused(
        RefusalReason.HANDED_OVER_HERE, "p1", "MPP/p1"
    )
    state = absorb(state, manifest(at=NOW + timedelta(minutes=1)), NOW)
    assert verify_code(owner.sha256, state, handed, NOW) == Refused(
        RefusalReason.HANDED_OVER_HERE, "p1", "MPP/p1"
    )


def test_an_older_manifest_does_not_replace_a_newer_one() -> None:
    first, second = code(), code()
    state = holding(permit("p1", first))
    newer = absorb(state, manifest(permit("p1", second), at=NOW + timedelta(minutes=2)), NOW)
    stale = absorb(newer, manifest(permit("p1", first), at=NOW + timedelta(minutes=1)), NOW)
    assert stale is newer
    assert isinstance(verify_code(second.sha256, stale, {}, NOW), Accepted)
