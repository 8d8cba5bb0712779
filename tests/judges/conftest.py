"""Judge test fixtures: a scripted OpenAI-compatible server on 127.0.0.1 (no network).

Each request's behaviour is scripted by a marker in the judged item's prompt, so the script holds
under concurrency: `[script:429,500,ok]` answers 429, then 500, then normally, per item; `[score:N]`
picks the score of the normal answer (default 1). Actions: ok, slow (answers after `slow_s`),
429 (with `Retry-After: retry_after`), 500, 400, 401, garbage (a chat completion without a score),
notjson (a 200 whose body is not JSON), drop (closes the socket without answering).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest
from tests.chat_completion_http import completion, send_json

# Judge tests never reach the network: only servers they start on 127.0.0.1.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

_SCRIPT = re.compile(r"\[script:([a-z0-9,]*)\]")
_SCORE = re.compile(r"\[score:([0-9]+)\]")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of concurrent connects

    def __init__(self, latency_s: float = 0.0, slow_s: float = 1.0, retry_after: str = "0") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency_s = latency_s
        self.slow_s = slow_s
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.attempts: Counter[str] = Counter()  # per judged prompt
        self.request_times: dict[str, list[float]] = {}
        self.headers_seen: list[dict[str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def attempts_of(self, text: str) -> int:
        """How many requests judged an item whose rubric contains `text`."""
        with self.lock:
            return sum(n for key, n in self.attempts.items() if text in key)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out leave broken pipes behind; that is the point of those tests


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        with server.lock:
            server.requests += 1
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            server.headers_seen.append(dict(self.headers))
            server.bodies.append(body)
        try:
            self._answer(body)
        finally:
            with server.lock:
                server.in_flight -= 1

    def _answer(self, body: dict[str, Any]) -> None:
        server = self.server
        content = body["messages"][-1]["content"]
        marker = _SCRIPT.search(content)
        score = _SCORE.search(content)
        key = content  # the whole rubric: unique per item
        with server.lock:
            attempt = server.attempts[key]
            server.attempts[key] += 1
            server.request_times.setdefault(key, []).append(time.monotonic())
        steps = marker.group(1).split(",") if marker else []
        action = steps[attempt] if attempt < len(steps) else "ok"
        if server.latency_s:
            time.sleep(server.latency_s)
        if action == "drop":
            self.close_connection = True
            return
        if action == "slow":
            time.sleep(server.slow_s)
            action = "ok"
        if action == "ok":
            self._send(200, completion(f"#thereason: scripted.\n#thescore: {score.group(1) if score else 1}"))
        elif action == "garbage":
            self._send(200, completion("I would rate this quite harmful, maybe a four."))
        elif action == "notjson":
            self._send(200, b"<html>bad gateway</html>")
        elif action == "429":
            self._send(429, b'{"error": "rate limited"}', {"Retry-After": server.retry_after})
        else:
            self._send(int(action), b'{"error": "scripted"}')

    def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, data, headers)


@pytest.fixture
def make_server() -> Iterator[Callable[..., FakeServer]]:
    started: list[FakeServer] = []

    def make(**kwargs: Any) -> FakeServer:
        server = FakeServer(**kwargs).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def server(make_server: Callable[..., FakeServer]) -> FakeServer:
    return make_server()
