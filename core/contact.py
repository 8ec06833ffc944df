"""The citizen's contact for notifications: a phone (+62…), an e-mail, a language.

Personal data: it is kept on the permit (`ContactRecorded`) for the notifier only, never put
on MQTT, and pages show it masked (`mask_phone`, `mask_email`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from core.errors import InvalidInputError

Language = Literal["id", "en"]
PHONE_PATTERN = r"^\+62[1-9][0-9]{7,12}$"
"""An Indonesian number in international form: +62, no leading 0, 9 to 13 digits after."""
# ASCII only and spelled out: the same characters for Python and for the OpenAPI schema.
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
_PHONE = re.compile(PHONE_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True, slots=True)
class Contact:
    """Where the citizen wants to hear from us, and in which language."""

    phone: str | None
    email: str | None
    lang: Language = "id"

    @classmethod
    def parse(
        cls, phone: str | None, email: str | None, lang: str = "id", permit_id: UUID | None = None
    ) -> Contact:
        """A checked contact, or `InvalidInputError` naming what is wrong."""
        phone = (phone or "").replace(" ", "").replace("-", "") or None
        email = (email or "").strip() or None
        if phone is None and email is None:
            raise InvalidInputError(
                permit_id, "Isi nomor HP atau e-mail / give a phone number or an e-mail"
            )
        if phone is not None and not _PHONE.fullmatch(phone):
            raise InvalidInputError(
                permit_id, "Nomor HP harus +62… / the phone number must be +62 and 9-13 digits"
            )
        if email is not None and (len(email) > 254 or not _EMAIL.fullmatch(email)):
            raise InvalidInputError(permit_id, "E-mail tidak sah / the e-mail is not valid")
        if lang not in ("id", "en"):
            raise InvalidInputError(permit_id, "Bahasa: id atau en / language: id or en")
        return cls(phone, email, "en" if lang == "en" else "id")

    @property
    def masked(self) -> str:
        """What a page may show: ``+62 812****789 · i***@g****.com``."""
        parts = [mask_phone(self.phone)] if self.phone else []
        if self.email:
            parts.append(mask_email(self.email))
        return " · ".join(parts)


def mask_phone(phone: str) -> str:
    """``+6281234567890`` -> ``+62 812*****890``."""
    local = phone.removeprefix("+62")
    return f"+62 {local[:3]}{'*' * max(0, len(local) - 6)}{local[-3:]}"


def mask_email(email: str) -> str:
    """``ibu.sari@gmail.com`` -> ``i*******@g****.com``."""
    user, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{user[:1]}{'*' * (len(user) - 1)}@{host[:1]}{'*' * (len(host) - 1)}{dot}{tld}"
