"""The registered names of the Celery tasks the pipeline records as follow-ups.

Named, not imported: services never import a tasks module (tools/layers.py puts tasks with the
interfaces); crowd.common.followups looks the name up among the registered tasks.
"""

CONSENSUS_TASK = "workflows.consensus_run_for_item"
AUTO_REVIEW_TASK = "crowd.pay_auto_review_for_item"
