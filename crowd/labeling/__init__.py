"""Annotation submission and geometry validation."""
