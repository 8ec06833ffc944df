"""The domain's exception tree. Each error carries the ids involved and a bilingual message.

Messages people read come in Bahasa Indonesia first, English second, joined by `` / ``.
The API maps each class to an HTTP status and a machine-readable ``code`` in one handler.
"""

from __future__ import annotations

from uuid import UUID


class DrivethruError(Exception):
    """Root of every error this product raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PlateError(DrivethruError, ValueError):
    code = "invalid_plate"

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"Plat {raw!r} tidak sah: {reason}")
        self.raw = raw
        self.reason = reason


class PickupCodeError(DrivethruError, ValueError):
    """A pickup code that is malformed, unknown, expired or replaced."""

    code = "invalid_code"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Kode pengambilan ditolak / pickup code refused: {reason}")
        self.reason = reason


class ContractError(DrivethruError, ValueError):
    """An MQTT message that does not follow the contract; ``reason`` goes back in the ack."""

    code = "invalid_message"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Pesan tidak sah / invalid message: {reason}")
        self.reason = reason


class PermitError(DrivethruError):
    """A command the permit's rules refuse."""

    code = "permit_rule"

    def __init__(self, permit_id: UUID | None, message: str) -> None:
        super().__init__(message)
        self.permit_id = permit_id


class PermitNotFoundError(PermitError):
    code = "permit_not_found"

    def __init__(self, permit_id: UUID) -> None:
        super().__init__(permit_id, f"Izin {permit_id} tidak ditemukan / permit not found")


class InvalidTransitionError(PermitError):
    """The command does not fit the permit's current stage."""

    code = "invalid_transition"

    def __init__(self, permit_id: UUID, command: str, status: str, needed: str) -> None:
        super().__init__(
            permit_id,
            f"Tidak bisa {command}: status izin {status}, perlu {needed} / "
            f"cannot {command}: permit is {status}, needs {needed}",
        )
        self.command = command
        self.status = status
        self.needed = needed


class InvalidInputError(PermitError, ValueError):
    code = "invalid_input"


class AlreadyHandedOverError(PermitError):
    """A second handover of the same permit; the attempt is recorded as a conflict."""

    code = "already_handed_over"

    def __init__(self, permit_id: UUID, handover_id: str, by: str) -> None:
        super().__init__(
            permit_id,
            f"Izin sudah diserahkan oleh {by} (serah terima {handover_id}) / "
            f"permit already handed over by {by} (handover {handover_id})",
        )
        self.handover_id = handover_id
        self.by = by


class ReleasedToAnotherLaneError(PermitError):
    """A window acting on a permit that waits at another lane's window (or at none)."""

    code = "released_to_another_lane"

    def __init__(self, permit_id: UUID, lane: str | None, asked: str) -> None:
        where = f"jalur {lane}" if lane else "tidak di jalur mana pun"
        where_en = f"lane {lane}" if lane else "no lane"
        super().__init__(
            permit_id,
            f"Izin ini dilepas ke {where}, bukan jalur {asked} / "
            f"this permit was released to {where_en}, not lane {asked}",
        )
        self.lane = lane
        self.asked = asked


class DelegateNotAuthorisedError(PermitError):
    code = "delegate_not_authorised"


class IdentityNotCheckedError(PermitError):
    code = "identity_not_checked"

    def __init__(self, permit_id: UUID) -> None:
        super().__init__(
            permit_id,
            "KTP penerima harus diperiksa sebelum serah terima / "
            "the recipient's KTP must be checked before the handover",
        )


class ConcurrentChangeError(PermitError):
    """Another writer changed the permit first and the retry budget ran out."""

    code = "concurrent_change"

    def __init__(self, permit_id: UUID) -> None:
        super().__init__(
            permit_id,
            "Izin diubah bersamaan, coba lagi / permit changed concurrently, try again",
        )


class CodeRefusedError(PermitError):
    """A pickup code that is known but may not release this permit now."""

    code = "code_refused"

    def __init__(self, permit_id: UUID | None, reason: str, message: str) -> None:
        super().__init__(permit_id, message)
        self.reason = reason


class ExpiryNotDueError(PermitError):
    """An expiry asked for before its time: the code is still valid, the permit still
    collectable."""

    code = "expiry_not_due"
