"""``python -m launcher`` runs the ``drivethru`` command line."""

from launcher.cli import main

main()
