"""A real Celery worker on a real broker (Redis and RabbitMQ) runs Quorum's tasks.

The worker is a separate process on the test's PostgreSQL database; the test sends task
messages through the broker and watches the database. The same message delivered twice
(at-least-once delivery) must change nothing the second time.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from crowd.assignment.models import Assignment
from tests import factories
from workflows.pipeline.claims import assignment_claim_next
from workflows.projects.models import Item

ROOT = Path(__file__).resolve().parents[2]
BROKERS = {
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/15"),
    "rabbitmq": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672//"),
}

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_broker,
    pytest.mark.django_db(transaction=True),
]


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=sorted(BROKERS))
def worker(request):
    """Start ``celery worker`` on its own queue against the test database; yield a sender."""
    host, port, url = BROKERS[request.param]
    if not reachable(host, port):
        pytest.skip(f"{request.param} is not running on {host}:{port}")
    queue = f"quorum-test-{os.getpid()}-{request.param}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "CELERY_BROKER_URL": url,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crowd", "worker", "--pool=solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    client = Celery(broker=url)

    def send(name: str):
        client.send_task(name, queue=queue)

    yield send
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    client.close()


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_worker_expires_overdue_leases_once_even_when_the_message_comes_twice(worker, project):
    items = [factories.make_item(project=project) for _ in range(3)]
    leases = [
        assignment_claim_next(worker=factories.make_user(), project_id=project.pk).assignment
        for _ in range(3)
    ]
    past = timezone.now() - timezone.timedelta(seconds=5)
    Assignment.objects.filter(pk__in=[a.pk for a in leases[:2]]).update(
        leased_at=past - timezone.timedelta(minutes=30), lease_expires_at=past
    )

    worker("crowd.assignment_expire_overdue")
    assert wait_for(lambda: Assignment.objects.filter(status="expired").count() == 2)
    worker("crowd.assignment_expire_overdue")  # a redelivered message
    time.sleep(2)

    assert Assignment.objects.filter(status="expired").count() == 2
    assert Assignment.objects.filter(status="leased").count() == 1
    assert sum(Item.objects.filter(pk__in=[i.pk for i in items]).values_list(
        "slots_taken", flat=True)) == 1  # fmt: skip
