"""The team device: manifest in, offline checks, handovers out through a durable outbox.

`bootstrap` is the composition root. Threads: paho's network thread (manifest and acks in),
the courier (outbox to broker, one handover at a time), the optional camera scanner and the
page server. Handovers are sent stop-and-wait, the next only after the previous one's ack,
so the server applies them in the order they happened even across retries and restarts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from uuid import UUID

from pydantic import ValidationError

from core.codes import PickupCode
from core.contract import (
    DeviceState,
    GeoPoint,
    LaneStatus,
    TeamAck,
    TeamHandover,
    TeamManifest,
    Topics,
    decode,
    encode,
    utc_now,
)
from core.errors import ContractError, PickupCodeError
from edge_lane.config import broker_password
from edge_lane.mobile.config import TeamSettings
from edge_lane.mobile.errors import HandoverRefusedError, ManifestVaultError
from edge_lane.mobile.journal import HandoverJournal, JournalEntry
from edge_lane.mobile.manifest import DeviceManifest, absorb
from edge_lane.mobile.vault import ManifestVault, manifest_key
from edge_lane.mobile.verify import Accepted, RefusalReason, Refused, Verdict, verify_code
from edge_lane.mqtt import DeviceLink
from edge_lane.outbox import Outbox

log = logging.getLogger(__name__)
COURIER_TICK = 0.5
Clock = Callable[[], datetime]


def device_version() -> str:
    """The installed package's version (not the lane agent's helper: that imports OpenCV)."""
    try:
        return metadata.version("drivethru")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True, slots=True)
class Scan:
    """The last code checked, from the camera or typed in; the code itself is not kept."""

    at: datetime
    source: str
    verdict: Verdict


class TeamDevice:
    """One team's device; `run` until stopped."""

    def __init__(
        self,
        settings: TeamSettings,
        *,
        vault: ManifestVault,
        journal: HandoverJournal,
        outbox: Outbox,
        link_factory: Callable[[TeamDevice], DeviceLink],
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.site)
        self.vault = vault
        self.journal = journal
        self.outbox = outbox
        self.clock = clock
        self.refused_messages = 0
        self.last_scan: Scan | None = None
        self._state = vault.load() or DeviceManifest()
        self._state_lock = threading.Lock()
        self._handover_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reconnected = threading.Event()
        self._put_back_pending()
        self.link = link_factory(self)

    # --- state ----------------------------------------------------------------------------

    @property
    def state(self) -> DeviceManifest:
        with self._state_lock:
            return self._state

    @property
    def subscriptions(self) -> list[str]:
        return [
            self.topics.team_manifest(self.settings.team),
            self.topics.team_acks(self.settings.team),
        ]

    def _put_back_pending(self) -> None:
        """A handover journaled just before a crash may have missed the outbox: add it back."""
        topic = self.topics.team_handovers(self.settings.team)
        for entry in self.journal.pending():
            self.outbox.add(entry.id, topic, entry.payload)  # ignored when already there

    # --- MQTT callbacks (paho's thread) ---------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        """Route by topic: brokers may deliver retained messages the device never asked for."""
        try:
            if topic == self.topics.team_manifest(self.settings.team):
                self._take_manifest(decode(TeamManifest, payload))
            elif topic == self.topics.team_acks(self.settings.team):
                self._take_ack(decode(TeamAck, payload))
            else:
                log.debug("diabaikan / ignored: %s", topic)
        except ContractError as error:
            self.refused_messages += 1
            log.warning("pesan %s ditolak / message refused: %s", topic, error.reason)

    def _take_manifest(self, manifest: TeamManifest) -> None:
        if manifest.team != self.settings.team:
            raise ContractError(f"team {manifest.team!r} is not {self.settings.team!r}")
        with self._state_lock:
            state = absorb(self._state, manifest, self.clock())
            if state is self._state:
                return
            try:
                self.vault.save(state)
            except OSError as error:  # still usable from memory; said loudly
                log.error("manifest tidak tersimpan / manifest not stored: %s", error)
            self._state = state
        log.info("manifest: %d izin / %d permits", len(manifest.permits), len(manifest.permits))

    def _take_ack(self, ack: TeamAck) -> None:
        settled = self.journal.settle(ack.id, ack.outcome, ack.reason, self.clock())
        self.outbox.ack(ack.id)  # after the journal: a crash between resends, never loses
        if settled and ack.outcome in ("conflict", "rejected"):
            log.warning(
                "serah terima %s: %s — %s", ack.id, ack.outcome, ack.reason or "",
                extra={"handover": str(ack.id)},
            )  # fmt: skip
        elif settled:
            log.info(
                "serah terima / handover %s: %s", ack.id, ack.outcome,
                extra={"handover": str(ack.id)},
            )  # fmt: skip
        self._wake.set()

    def on_connected(self) -> None:
        """On every (re)connect: say ``online``, retained, over the last will's ``offline``
        (a restart after a kill -9, or a broker that lost its retained messages)."""
        self.link.publish(self._status_topic, self.status(), retain=True)
        self._reconnected.set()
        self._wake.set()

    @property
    def _status_topic(self) -> str:
        return self.topics.team_status(self.settings.team)

    def status(self, *, offline: bool = False) -> bytes:
        """The device's status message (the lane's `LaneStatus`: no camera rate to report)."""
        return encode(
            LaneStatus(
                state=DeviceState.OFFLINE if offline else DeviceState.ONLINE,
                outbox_depth=self.outbox.depth(),
                version=device_version(),
            )
        )

    # --- the officer's actions ------------------------------------------------------------

    def check_code(self, text: str, source: str = "typed") -> Verdict:
        """Verify a code offline; only its hash is kept (never log ``text``)."""
        try:
            code_sha256 = PickupCode.parse(text).sha256
        except PickupCodeError:
            verdict: Verdict = Refused(RefusalReason.MALFORMED)
        else:
            verdict = self.check_hash(code_sha256)
        self.last_scan = Scan(self.clock(), source, verdict)
        if isinstance(verdict, Refused):
            log.info("kode ditolak / code refused: %s (%s)", verdict.reason, verdict.number or "-")
        else:
            log.info(
                "kode cocok / code matches permit %s", verdict.permit.number,
                extra={"permit": str(verdict.permit.permit_id)},
            )  # fmt: skip
        return verdict

    def check_hash(self, code_sha256: str) -> Verdict:
        return verify_code(code_sha256, self.state, self.journal.handed_here(), self.clock())

    def hand_over(
        self, code_sha256: str, *, id_checked: bool, position: GeoPoint | None = None
    ) -> TeamHandover:
        """Record a handover durably (journal, then outbox); raises `HandoverRefusedError`."""
        with self._handover_lock:  # two clicks at once must not hand one permit over twice
            verdict = self.check_hash(code_sha256)
            if isinstance(verdict, Refused):
                raise HandoverRefusedError(f"{verdict.message_id} / {verdict.message_en}")
            if not id_checked:
                raise HandoverRefusedError(
                    "Periksa KTP dulu, lalu centang / check the KTP first, then tick the box"
                )
            handover = self._handover(verdict, position)
            payload = encode(handover)
            self.journal.record(
                handover.id, permit_id=verdict.permit.permit_id, number=verdict.permit.number,
                place=verdict.permit.place, recipient=handover.recipient,
                happened_at=handover.happened_at, payload=payload,
            )  # fmt: skip
            topic = self.topics.team_handovers(self.settings.team)
            if not self.outbox.add(handover.id, topic, payload):
                self.journal.forget(handover.id)
                raise HandoverRefusedError(
                    "Antrean sinkron penuh: sambungkan ke broker / sync queue full: connect"
                )
        log.info(
            "DISERAHKAN / HANDED OVER %s (%s)", verdict.permit.number, handover.recipient,
            extra={"permit": str(verdict.permit.permit_id), "handover": str(handover.id)},
        )  # fmt: skip
        self._wake.set()
        return handover

    def _handover(self, verdict: Accepted, position: GeoPoint | None) -> TeamHandover:
        try:
            return TeamHandover(
                team=self.settings.team, permit_id=verdict.permit.permit_id,
                code_sha256=verdict.code_sha256, happened_at=self.clock(), by=self.settings.by,
                recipient=verdict.recipient,
                delegate_id=verdict.delegate.delegate_id if verdict.delegate else None,
                id_checked=True, position=position,
            )  # fmt: skip
        except ValidationError as error:
            raise HandoverRefusedError(
                f"serah terima tidak sah / invalid handover: {error}"
            ) from None

    def journal_entries(self) -> list[JournalEntry]:
        return self.journal.entries()

    # --- the loops ------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Sync until ``stop`` (or `stop`) is set."""
        stop = stop or self._stop
        self.link.start()
        courier = threading.Thread(target=self._deliver, name="courier", daemon=True)
        courier.start()
        try:
            while not stop.is_set() and not self._stop.is_set():
                stop.wait(0.2)
        finally:
            self._stop.set()
            self._wake.set()
            courier.join(timeout=5)
            self.link.stop(self._status_topic, self.status(offline=True))
            self.outbox.close()
            self.journal.close()
            log.info("perangkat tim berhenti / team device stopped")

    def stop(self) -> None:
        self._stop.set()

    def _deliver(self) -> None:
        in_flight: UUID | None = None
        sent_at = 0.0
        while not self._stop.is_set():
            self._wake.wait(COURIER_TICK)
            self._wake.clear()
            if not self.link.connected:
                in_flight = None
                continue
            reconnected = self._reconnected.is_set()
            self._reconnected.clear()
            head = self.outbox.due(None, limit=1)
            if not head:
                in_flight = None
                continue
            entry, now = head[0], time.monotonic()
            waiting = entry.id == in_flight and now - sent_at < self.settings.retry_seconds
            if waiting and not reconnected:
                continue
            if self.link.publish(entry.topic, entry.payload) is None:
                continue
            self.outbox.mark_sent(entry.id)
            in_flight, sent_at = entry.id, now


def bootstrap(settings: TeamSettings, *, environ: Mapping[str, str] | None = None) -> TeamDevice:
    """Wire a team device; raises `ConfigError` (key, password), `ManifestVaultError`
    (a tampered or unreadable manifest) or `OutboxError`."""
    password = broker_password(settings.broker, environ)
    key = manifest_key(settings.manifest_key_env, environ)
    data = settings.data_dir
    vault = ManifestVault(data / "manifest.enc", key, site=settings.site, team=settings.team)
    vault.load()  # refuse to start on a tampered file before opening anything else
    journal = HandoverJournal(data / "journal.db")
    outbox = Outbox(data / "outbox.db", settings.max_unsynced)
    topics = Topics(settings.site)
    team = settings.team
    # The device's last will: the team shows offline when its device drops off the network.
    # It is made once, so its `at` is the start; the `online` of each connect is newer.
    will = encode(LaneStatus(state=DeviceState.OFFLINE, version=device_version()))

    def link_for(device: TeamDevice) -> DeviceLink:
        return DeviceLink(
            settings.broker,
            client_id=f"drivethru-{settings.site}-team-{team}",
            password=password,
            will_topic=topics.team_status(team),
            will_payload=will,
            subscriptions=device.subscriptions,
            on_message=device.on_message,
            on_connected=device.on_connected,
        )

    try:
        return TeamDevice(
            settings, vault=vault, journal=journal, outbox=outbox, link_factory=link_for
        )
    except ManifestVaultError:
        journal.close()
        outbox.close()
        raise
