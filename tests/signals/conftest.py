"""Fixtures for signal tests: the PDQ conformance pictures come from the suite's conftest."""
