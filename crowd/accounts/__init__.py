"""Users, roles (worker, manager, reviewer, auditor), worker profiles, allauth wiring, API tokens."""
