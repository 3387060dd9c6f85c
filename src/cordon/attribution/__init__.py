"""Hosting attribution: who hosts a URL, who fronts it, who registered it, where it is, and
which partners to tell. See docs/attribution.md."""
