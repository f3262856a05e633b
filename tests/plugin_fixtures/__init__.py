"""Test-only plugin modules."""
