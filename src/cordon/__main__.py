"""``python -m cordon`` is the ``cordon`` command."""

from cordon.cli.main import main

main()
