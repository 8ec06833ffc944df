"""The ``drivethru`` command: one root that mounts every package's commands, and the demo.

The layers run one way: launcher -> {api, edge_lane, bench} -> {projections, plate_reader}
-> core (tests/unit/test_layers.py holds them there).
"""
