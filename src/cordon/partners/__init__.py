"""Partner organisations, their members, sessions and API tokens."""
