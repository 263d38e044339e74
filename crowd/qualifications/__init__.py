"""Qualification types, grants to workers, project requirements and qualification tests."""
