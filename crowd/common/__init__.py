"""Shared kernel: domain errors, the API error handler, pagination, base permissions."""
