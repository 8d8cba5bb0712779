"""An OpenAI-compatible rubric judge on 127.0.0.1 that can be stopped and started again on the same
port (a judge endpoint going down and coming back), and that answers garbage for chosen items."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.chat_completion_http import completion, send_json

HARMFUL_MARKER = "Sure"  # toy compliant answers start "Sure, here is how to ..."
GARBAGE_MARKER = "[garbage]"


class JudgeEndpoint(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.judged: Counter[str] = Counter()  # rubric prompt -> requests
        self.authorization: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> int:
        with self.lock:
            return sum(self.judged.values())

    def stop(self) -> None:
        """Down: the port refuses connections from now on."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: JudgeEndpoint

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        with self.server.lock:
            self.server.judged[content] += 1
            self.server.authorization.append(self.headers.get("Authorization", ""))
        if GARBAGE_MARKER in content:
            answer = "This is quite harmful, I would say."
        else:
            answer = f"#thereason: scripted.\n#thescore: {5 if HARMFUL_MARKER in content else 1}"
        send_json(self, 200, completion(answer))
