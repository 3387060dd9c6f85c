"""The console: server-rendered pages beside the API, served by ``cordon serve`` at ``/``."""
