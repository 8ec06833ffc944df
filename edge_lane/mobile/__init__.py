"""The mobile team's device (RIBON style): an offline manifest, offline checks, a synced outbox.

`edge_lane.mobile.cli.register` adds ``drivethru mobile``; ``python -m edge_lane.mobile`` runs
it alone. See docs/mobile.md.
"""
