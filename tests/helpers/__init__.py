"""Test helpers (fake datasets, paths to the shared real data)."""
