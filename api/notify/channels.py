"""How a message leaves: a signed webhook, an e-mail, or the demo's outbox page.

``deliver(body)`` returns when the other side took it (HTTP 2xx, SMTP 250) and raises
`DeliveryError` otherwise; the courier retries later with the same bytes.
"""

from __future__ import annotations

import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Protocol

import orjson

from api.notify.messages import SIGNATURE_HEADER, Recipient, sign
from api.notify.settings import DemoOutboxChannel, EmailChannel, NotifyChannel, WebhookChannel


class DeliveryError(Exception):
    """The channel did not take the message; ``reason`` is kept on the outbox row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Channel(Protocol):
    name: str
    keeps_links: bool
    """Keep the link in the outbox once delivered (the demo's page shows it)."""

    def reaches(self, to: Recipient) -> bool: ...

    def deliver(self, body: bytes) -> None: ...


class Webhook:
    """A JSON POST with ``X-Drivethru-Signature: sha256=<hex HMAC-SHA256 of the body>``."""

    keeps_links = False

    def __init__(self, settings: WebhookChannel) -> None:
        self.name = settings.key
        self.url = settings.url
        self.timeout = settings.timeout_seconds
        self._secret = settings.secret()

    def reaches(self, to: Recipient) -> bool:
        return True  # the gateway decides between WhatsApp, SMS and e-mail

    def deliver(self, body: bytes) -> None:
        message_id = orjson.loads(body)["id"]
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self._secret),
                "X-Drivethru-Id": message_id,
                "User-Agent": "drivethru-notifier/1",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status = answer.status
        except urllib.error.HTTPError as refused:
            raise DeliveryError(f"HTTP {refused.code}") from None
        except (OSError, ValueError) as failed:
            raise DeliveryError(f"{type(failed).__name__}: {failed}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")


class Email:
    """SMTP; STARTTLS whenever the server offers it (required with ``require_tls``)."""

    keeps_links = False

    def __init__(self, settings: EmailChannel) -> None:
        self.name = settings.key
        self.settings = settings
        self._password = settings.password()

    def reaches(self, to: Recipient) -> bool:
        return to.email is not None

    def deliver(self, body: bytes) -> None:
        parsed = orjson.loads(body)
        settings = self.settings
        mail = EmailMessage()
        mail["From"] = settings.sender
        mail["To"] = parsed["contact"]["email"]
        mail["Subject"] = parsed["subject"]
        # The same id on every retry: a mail system that saw it already may drop the copy.
        mail["Message-ID"] = f"<{parsed['id']}@drivethru>"
        mail["Content-Language"] = "id, en" if parsed["contact"]["lang"] == "en" else "id"
        mail.set_content(parsed["text"])
        timeout = settings.timeout_seconds
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
                    smtp.ehlo()
                elif settings.require_tls:
                    raise DeliveryError("server SMTP tidak menawarkan STARTTLS / no STARTTLS")
                if settings.username and self._password is not None:
                    smtp.login(settings.username, self._password)
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as failed:  # ssl.SSLError is an OSError
            raise DeliveryError(f"{type(failed).__name__}: {failed}") from None


class DemoOutbox:
    """Demo only: delivered at once; the demo's page lists the messages with their links."""

    keeps_links = True

    def __init__(self, settings: DemoOutboxChannel) -> None:
        self.name = settings.key

    def reaches(self, to: Recipient) -> bool:
        return True

    def deliver(self, body: bytes) -> None:
        return None


def build_channel(settings: NotifyChannel) -> Channel:
    """The channel a ``[[notify]]`` entry describes (its secret read from the environment)."""
    if isinstance(settings, WebhookChannel):
        return Webhook(settings)
    if isinstance(settings, EmailChannel):
        return Email(settings)
    return DemoOutbox(settings)
