from edge_lane.frigate.cli import main

main()
