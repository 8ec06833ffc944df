"""The notifier wired for one server: its file, its channels, its place in the service."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from api.notify.channels import build_channel
from api.notify.fold import StateOpener
from api.notify.lease import take_lease
from api.notify.notifier import Notifier
from api.notify.store import IssuedLinks, NotifyStore
from api.settings import ServerSettings
from core.personal import ERASED, unseal_state
from core.service import PermitService
from projections.identity import store_identity

log = logging.getLogger(__name__)


def notify_path(read_models: Path) -> Path:
    """``notify.db`` beside the read models (the demo and `drivethru seed` write links there)."""
    return read_models.parent / "notify.db"


def state_opener(service: PermitService) -> StateOpener:
    """Opens the sealed personal fields of the events the notifier reads (`core.personal`);
    an erased one (its subject's key deleted) reads None, so nothing is sent to it."""
    keys = service.subject_keys

    def open_state(state: dict[str, Any]) -> dict[str, Any]:
        opened = unseal_state(keys, state)
        for name in ("phone", "email", "applicant_name"):
            if opened.get(name) == ERASED:
                opened[name] = None
        return opened

    return open_state


def build_notifier(settings: ServerSettings, service: PermitService) -> Notifier | None:
    """The server's notifier, or None without ``[[notify]]`` channels (then no link is kept:
    nothing would send it)."""
    if not settings.notify:
        return None
    channels = [build_channel(channel) for channel in settings.notify]
    lease = take_lease(settings.service.store)
    if lease is None:
        log.error(
            "notifikasi dikirim server lain pada event store ini; server ini tidak mengirim / "
            "another server sends this event store's notifications: this one sends none"
        )
        return None
    path = notify_path(settings.read_models)
    service.add_code_listener(IssuedLinks(path))
    store = NotifyStore(path)
    if store.ensure_from(store_identity(service.recorder, settings.service.store)):
        log.warning(
            "%s mengikuti event store lain: mulai dari awal / followed another event store: "
            "starting over (messages already queued are not queued again)", path,
        )  # fmt: skip
    notifier = Notifier(
        service.recorder,
        store,
        channels,
        settings.notifications,
        public_url=settings.notifications.public_url or f"http://{settings.host}:{settings.port}",
        uncollected_days=settings.uncollected_expire_days,
        clock=service.clock,
        open_state=state_opener(service),
        lease=lease,
    )
    service.add_save_listener(notifier.wake)
    return notifier
