"""``python -m edge_lane.mobile``: the team device's command (``drivethru mobile`` otherwise)."""

from edge_lane.mobile.cli import main

main()
