"""A real HTTP receiver on 127.0.0.1 that records what it is sent, and webhook fixtures."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workflows.webhooks import services


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers with ``statuses`` in turn (then 200) and keeps every request it got."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(state.delay)
            code = state.next_status()
            try:
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender timed out first: the slow-receiver test wants exactly that

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _allow_loopback_targets(settings):
    # The receiver lives on loopback, which the SSRF guard refuses unless this is on.
    settings.QUORUM_WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def endpoint(project, alice, receiver):
    return services.webhook_endpoint_create(project=project, url=receiver.url, created_by=alice)
