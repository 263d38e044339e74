"""A gold answer's consequences: the worker's gold record, the quality gate, and its block.

The qualifications app records the score (gold accuracy, test completion) and runs the gate's
judgement with its warning and revocation (crowd.qualifications.gate). A gate whose action is
``block`` blocks the worker on the project here, because a block ends the worker's leases, and
an ended lease frees its item's slot and its reserved reward (workflows.pipeline.leases). All of
it runs inside the submit's transaction.
"""

from contextlib import suppress

from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.assignment.services import block_record, leases_live
from crowd.common.exceptions import Conflict
from crowd.qualifications.gate import gate_reason
from crowd.qualifications.services import gold_result_record as gold_score_record
from workflows.projects.models import GateAction

from .leases import lease_end


def gold_result_record(*, assignment: Assignment) -> None:
    """Record a scored gold answer; block the worker if the project's gate says so.

    Precondition: inside the submit transaction, after the assignment was saved as submitted
    with its ``gold_score``.
    """
    verdict = gold_score_record(assignment=assignment)
    project = assignment.project
    if verdict is None or not verdict.trips or project.gate_action != GateAction.BLOCK:
        return
    worker = assignment.worker
    with suppress(Conflict):  # already blocked there: one block is enough
        block_record(
            worker=worker,
            project=project,
            reason=gate_reason(project, verdict),
            actor=project.owner,
        )
    lease_end(leases_live(worker=worker, project=project), status=AssignmentStatus.RETURNED)
