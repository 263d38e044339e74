"""Race safety on PostgreSQL: concurrent first requests auto-grant once, concurrent test starts
open one attempt."""

import threading

import pytest
from django.db import connection

from crowd.qualifications import services
from crowd.qualifications.models import QualificationEvent, QualificationGrant
from tests import factories
from tests.qualifications.conftest import box_answer

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(n: int, work) -> list:
    barrier, results = threading.Barrier(n), []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # reported by the assertion below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_first_requests_auto_grant_exactly_once(make_type, require, project, wendy):
    require(make_type("Newcomer", auto_grant=True, auto_grant_value=3), "exists")
    results = run_concurrently(
        8, lambda: services.qualification_auto_grant_for_project(worker=wendy, project=project)
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(len(r) for r in results) == 1
    assert QualificationGrant.objects.count() == 1 and QualificationEvent.objects.count() == 1


def test_concurrent_test_starts_open_one_attempt(make_type, alice, wendy):
    test_project = factories.make_project(owner=alice)
    for _ in range(3):
        factories.make_item(
            project=test_project, gold_answer=box_answer(test_project, (0, 0, 5, 5))
        )
    qtype = make_type("Birds expert", test_project=test_project, test_size=3)
    results = run_concurrently(
        8, lambda: services.qualification_test_start(worker=wendy, qualification_type=qtype).pk
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
