"""Search over every identifier Cordon knows, and batch screening. See docs/cases.md."""
