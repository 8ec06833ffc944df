"""The lane agent's counters in Prometheus text format, served at ``/metrics`` on the display
port; named like the server's (``drivethru_...``) with an ``edge`` part."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CameraCounters:
    """One camera as the lane saw it since it started."""

    name: str
    frames_read: int
    frames_skipped: int
    reads: int
    ok: bool


@dataclass(frozen=True, slots=True)
class LaneCounters:
    """A snapshot of the lane agent, taken when ``/metrics`` is asked for."""

    site: str
    lane: str
    cameras: tuple[CameraCounters, ...]
    arrivals_decided: int
    arrivals_sent: int
    arrivals_acked: int
    outbox_depth: int
    broker_connected: bool


def render_lane_metrics(counters: LaneCounters) -> str:
    """The snapshot as Prometheus text exposition (version 0.0.4)."""
    lane = f'site="{counters.site}",lane="{counters.lane}"'
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.extend((f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"))

    per_camera = (
        ("frames_read_total", "counter", "Frames the camera gave.", "frames_read"),
        ("frames_skipped_total", "counter", "Frames that could not be used.", "frames_skipped"),
        ("reads_total", "counter", "Frames given to the plate and code reader.", "reads"),
    )
    for suffix, kind, help_text, field in per_camera:
        name = f"drivethru_edge_{suffix}"
        family(name, kind, help_text)
        for camera in counters.cameras:
            value = getattr(camera, field)
            lines.append(f'{name}{{{lane},camera="{camera.name}"}} {value}')
    family("drivethru_edge_camera_ok", "gauge", "1 while the camera gives frames.")
    for camera in counters.cameras:
        lines.append(f'drivethru_edge_camera_ok{{{lane},camera="{camera.name}"}} {int(camera.ok)}')
    lane_wide = (
        ("arrivals_decided_total", "counter", "Arrivals the visits decided.",
         counters.arrivals_decided),
        ("arrivals_sent_total", "counter", "Arrivals put in the outbox for the server.",
         counters.arrivals_sent),
        ("arrivals_acked_total", "counter", "Arrivals the server acked.", counters.arrivals_acked),
        ("outbox_depth", "gauge", "Arrivals waiting for an ack.", counters.outbox_depth),
        ("broker_connected", "gauge", "1 while the MQTT broker has the lane connected.",
         int(counters.broker_connected)),
    )  # fmt: skip
    for suffix, kind, help_text, number in lane_wide:
        name = f"drivethru_edge_{suffix}"
        family(name, kind, help_text)
        lines.append(f"{name}{{{lane}}} {number}")
    return "\n".join(lines) + "\n"
