"""A real MQTT client for tests: an edge, a lane display or a server, as the test needs."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class MqttPeer:
    """Connects with a user's credentials, subscribes, and keeps what arrives in a queue."""

    def __init__(
        self, host: str, port: int, username: str, password: str, topics: Iterable[str] = (),
        *, client_id: str | None = None, v5: bool = True,
    ) -> None:  # fmt: skip
        self.received: queue.Queue[Received] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{username}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        self.client.username_pw_set(username, password)
        self._topics = list(topics)
        self._subscribed = 0
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(host, port)
        self.client.loop_start()
        deadline = time.monotonic() + 10
        while self._subscribed < len(self._topics) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._subscribed < len(self._topics):
            raise TimeoutError("subscriptions not confirmed")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        for topic in self._topics:
            client.subscribe(topic, qos=1)

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed += 1

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received.put(Received(message.topic, bytes(message.payload), bool(message.retain)))

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """The first message that ``predicate`` accepts; others stay consumed."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message")
            try:
                message = self.received.get(timeout=left)
            except queue.Empty:
                raise TimeoutError("no matching message") from None
            if predicate(message):
                return message

    def drain(self, seconds: float = 0.3) -> list[Received]:
        time.sleep(seconds)
        messages = []
        while not self.received.empty():
            messages.append(self.received.get_nowait())
        return messages

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
