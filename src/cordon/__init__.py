"""Cordon."""
