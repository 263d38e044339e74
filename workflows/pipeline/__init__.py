"""The pipeline: every transition that moves more than one app's rows, above all the apps.

claim (claims, claim_sql), lease end and blocks (leases), submit (submit), consensus, promotion
and expert review (consensus), the quality gate's block (quality_gate). Approval of work stays
in crowd/pay, which sits above the apps it touches. docs/architecture.md maps them.
"""
