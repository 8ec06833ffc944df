"""``python -m edge_lane``: the lane agent's command on its own (``drivethru edge`` otherwise)."""

from edge_lane.cli import main

main()
