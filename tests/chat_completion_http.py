"""What the test judge servers share: an OpenAI-compatible chat completion body and a JSON reply."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


def completion(content: str) -> bytes:
    """A `/v1/chat/completions` response body whose one choice says `content`."""
    return json.dumps({"id": "x", "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}]}).encode()


def send_json(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
    """Write a JSON reply; a client that already gave up (a timeout test) is not an error here."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        pass
