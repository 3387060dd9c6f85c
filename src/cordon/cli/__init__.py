"""The ``cordon`` command line: one module per command group."""
