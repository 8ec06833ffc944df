"""``python -m api`` runs the ``drivethru`` command line."""

from api.cli import main

main()
