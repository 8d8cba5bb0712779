"""An endpoint that echoes the API key in an error body never puts the key into messages or raw answers."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from safelight.judges import OpenAICompatibleJudge
from safelight.judges.base import JudgeItem
from safelight.judges.http_judge import JudgeConfigurationError


class EchoKeyHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        code = 401 if self.server.unauthorised else 400  # type: ignore[attr-defined]
        body = json.dumps({"error": f"bad key {self.headers.get('Authorization')}"}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("unauthorised", [True, False])
def test_echoed_key_is_redacted(unauthorised: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("ECHO_TEST_KEY", key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoKeyHandler)
    server.unauthorised = unauthorised  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        judge = OpenAICompatibleJudge(f"http://127.0.0.1:{server.server_address[1]}/v1", "m",
                                      api_key_env="ECHO_TEST_KEY", max_retries=0)
        if unauthorised:
            with pytest.raises(JudgeConfigurationError) as error:
                judge.score([JudgeItem("p", "r")])
            assert key not in str(error.value) and "[redacted]" in str(error.value)
        else:
            (verdict,) = judge.score([JudgeItem("p", "r")])
            assert not verdict.ok and key not in verdict.raw and "[redacted]" in verdict.raw
    finally:
        server.shutdown()
