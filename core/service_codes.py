"""Pickup codes: issued at staging, reissued, given to delegates, and resolved at the lane.

A code's text leaves only in the `IssuedCode` returned (and to the code listeners); the store
keeps its hash, and a `PickupCodeIndex` from the hash to the permit, saved with the permit's
event so that a code already in use anywhere is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from core.code_index import PickupCodeIndex
from core.codes import PickupCode, hash_code_text, mask_nik, nik_hash
from core.errors import CodeRefusedError, InvalidInputError
from core.identity import nik_tail_hash
from core.permit import PermitApplication
from core.service_store import PermitStore
from core.values import CodeHolder, IssuedCode, Recipient, code_index_id

IssueCommand = Callable[[PermitApplication, str, datetime, datetime], object]
"""A permit command that takes a new code: (permit, code hash, expires at, now)."""


class CodeCommands(PermitStore):
    """The commands that issue a permit's pickup codes, and the lookup of a code."""

    @staticmethod
    def _index_for(code: PickupCode, permit_id: UUID) -> Callable[[], list[Aggregate]]:
        return lambda: [PickupCodeIndex(code_sha256=code.sha256, permit_id=permit_id)]

    def stage(
        self, permit_id: UUID, by: str, slot: str, *, code: PickupCode | None = None
    ) -> IssuedCode:
        """Stage the printed permit in ``slot`` and issue its pickup code: it is READY.

        ``code`` is for codes made elsewhere (a migration, the demo's repeatable run); a code
        already in use anywhere is refused by the store, as its index id is taken.
        """
        return self._issue(
            permit_id,
            code or PickupCode.generate(),
            lambda p, sha256, expires_at, now: p.stage(by, slot, sha256, expires_at, now),
        )

    def reissue_code(self, permit_id: UUID, by: str, reason: str) -> IssuedCode:
        """A new pickup code for a lost, leaked or expired one; the old code stops working at
        once, and an expired permit is READY again until the new code's expiry."""
        return self._issue(
            permit_id,
            PickupCode.generate(),
            lambda p, sha256, expires_at, now: p.reissue_code(by, sha256, expires_at, reason, now),
        )

    def _issue(self, permit_id: UUID, code: PickupCode, command: IssueCommand) -> IssuedCode:
        """Issue ``code`` to the permit through ``command``, valid for the site's code
        lifetime; the code listeners hear of it first (a notifier keeps its link)."""
        now = self.clock()
        expires_at = now + self.settings.code_ttl
        issued = IssuedCode(permit_id, code.text, code.sha256, expires_at)
        self._tell_code(issued)
        self._change(
            permit_id,
            lambda p: command(p, code.sha256, expires_at, now),
            self._index_for(code, permit_id),
        )
        return issued

    def authorise_delegate(
        self, permit_id: UUID, *, name: str, nik: str, expires_at: datetime
    ) -> IssuedCode:
        """Record a surat kuasa; the delegate gets a pickup code of their own."""
        try:
            hashed_nik = nik_hash(nik, self._nik_key)
        except ValueError as error:
            raise InvalidInputError(permit_id, str(error)) from None
        tail = nik_tail_hash(nik, self._nik_key)
        code = PickupCode.generate()
        delegate_id = code.sha256[:12]
        now = self.clock()
        self._change(
            permit_id,
            lambda p: p.authorise_delegate(
                delegate_id, name, hashed_nik, mask_nik(nik), expires_at, code.sha256, now, tail
            ),
            self._index_for(code, permit_id),
        )
        return IssuedCode(permit_id, code.text, code.sha256, expires_at, Recipient.DELEGATE)

    def resolve_code(self, code: str, *, site: str | None = None) -> CodeHolder:
        """Who a pickup code (its text or its SHA-256) speaks for, if it may release now."""
        code_sha256 = code if len(code) == 64 else hash_code_text(PickupCode.parse(code).text)
        # An index never changes once registered: a cached one needs no fast-forward (a
        # store read per arrival when several servers share the store).
        index = self.cached(code_index_id(code_sha256))
        if not isinstance(index, PickupCodeIndex):
            try:
                index = self.repository.get(code_index_id(code_sha256))
            except AggregateNotFoundError:
                raise CodeRefusedError(
                    None, "unknown", "Kode tidak dikenal / unknown code"
                ) from None
        with self._lock(index.permit_id):
            permit = self._permit(index.permit_id)
            if site is not None and permit.site != site:
                raise CodeRefusedError(
                    permit.id,
                    "wrong_site",
                    f"Izin ini diambil di {permit.site} / this permit is collected at "
                    f"{permit.site}",
                )
            return permit.check_code_usable(code_sha256, self.clock())
