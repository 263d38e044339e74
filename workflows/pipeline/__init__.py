"""The pipeline: every transition that moves more than one app's rows, above all the apps.

claim (claims, claim_sql), lease end and blocks (leases), submit (submit), consensus, promotion
and expert review (consensus), the quality gate (quality_gate), and the approval of work
(approval). docs/architecture.md maps them.
"""
