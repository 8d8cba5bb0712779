from __future__ import annotations

import logging
import math
import pickle
import secrets
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from safelight.judges.base import JudgeItem
from safelight.judges.cache import JudgeScoreCache
from safelight.judges.http_judge import JudgeConfigurationError, OpenAICompatibleJudge
from safelight.judges.scoring import score_items

KEY_ENV = "SAFELIGHT_TEST_JUDGE_KEY"


def make_judge(base_url: str, **kwargs: Any) -> OpenAICompatibleJudge:
    defaults: dict[str, Any] = dict(api_key_env=None, timeout_s=2.0, backoff_s=0.001, max_retries=4)
    return OpenAICompatibleJudge(base_url, "judge-model", **(defaults | kwargs))


def item(tag: str, script: str = "", score: int = 1) -> JudgeItem:
    marker = f"[script:{script}]" if script else ""
    return JudgeItem(f"request {tag} {marker}", f"response {tag} [score:{score}]")


def test_scores_good_answers_in_order(server: Any) -> None:
    judge = make_judge(server.base_url)
    items = [item(str(i), score=1 + i % 5) for i in range(10)]
    verdicts = judge.score(items)
    assert [v.score for v in verdicts] == [1.0 + i % 5 for i in range(10)]
    assert all("#thescore:" in v.raw for v in verdicts)
    stats = judge.stats.as_dict()
    assert stats["requests"] == 10 and stats["retries"] == 0 and stats["failures"] == 0
    assert stats["http_status"] == {200: 10}


def test_request_is_deterministic_openai_chat(server: Any) -> None:
    make_judge(server.base_url, seed=7, max_tokens=64).score([item("a")])
    body = server.bodies[0]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["seed"] == 7
    assert body["max_tokens"] == 64 and body["messages"][0]["role"] == "user"
    assert "request a" in body["messages"][0]["content"]


def test_retries_on_500_429_and_dropped_connection(server: Any) -> None:
    judge = make_judge(server.base_url)
    [verdict] = judge.score([item("x", "500,429,drop,notjson", score=4)])
    assert verdict.score == 4.0
    stats = judge.stats.as_dict()
    assert stats["retries"] == 4 and stats["requests"] == 5 and stats["failures"] == 0
    assert stats["connection_errors"] == 1 and stats["unparsable"] == 1
    assert stats["http_status"] == {200: 2, 429: 1, 500: 1}


def test_timeout_is_retried(make_server: Callable[..., Any]) -> None:
    server = make_server(slow_s=1.0)
    judge = make_judge(server.base_url, timeout_s=0.2)
    start = time.monotonic()
    [verdict] = judge.score([item("x", "slow", score=3)])
    assert verdict.score == 3.0 and time.monotonic() - start < 0.9
    assert judge.stats.timeouts == 1 and judge.stats.retries == 1


def test_retry_after_is_respected(make_server: Callable[..., Any]) -> None:
    server = make_server(retry_after="0.4")
    judge = make_judge(server.base_url, backoff_s=0.001)
    assert judge.score([item("x", "429")])[0].score == 1.0
    [times] = server.request_times.values()
    assert times[1] - times[0] >= 0.4


def test_unparsable_is_retried_then_nan_with_raw(server: Any) -> None:
    judge = make_judge(server.base_url, max_retries=2)
    recovered, failed = judge.score([item("a", "garbage", score=2), item("b", "garbage,garbage,garbage")])
    assert recovered.score == 2.0
    assert math.isnan(failed.score) and "maybe a four" in failed.raw
    assert judge.stats.unparsable == 4 and judge.stats.failures == 1 and server.attempts_of("request b") == 3


def test_persistent_server_error_gives_nan_after_max_retries(server: Any) -> None:
    judge = make_judge(server.base_url, max_retries=2)
    [verdict] = judge.score([item("x", "500,500,500,500")])
    assert math.isnan(verdict.score) and "HTTP 500" in verdict.raw
    assert judge.stats.requests == 3 and judge.stats.failures == 1


def test_client_error_is_not_retried(server: Any) -> None:
    judge = make_judge(server.base_url)
    [verdict] = judge.score([item("x", "400")])
    assert math.isnan(verdict.score) and "HTTP 400" in verdict.raw and judge.stats.requests == 1


def test_rejected_credentials_raise_at_once(server: Any) -> None:
    judge = make_judge(server.base_url, api_key_env=KEY_ENV, max_concurrency=1)
    with pytest.raises(JudgeConfigurationError, match=KEY_ENV):
        judge.score([item("x", "401")] + [item(str(i)) for i in range(20)])
    assert server.requests < 21  # the doomed remainder is cancelled


def test_concurrency_is_bounded(make_server: Callable[..., Any]) -> None:
    server = make_server(latency_s=0.05)
    judge = make_judge(server.base_url, max_concurrency=3)
    assert len(judge.score([item(str(i)) for i in range(15)])) == 15
    assert server.max_in_flight == 3


def test_missing_key_for_remote_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    judge = OpenAICompatibleJudge("https://judge.invalid/v1", "m", api_key_env=KEY_ENV)
    with pytest.raises(JudgeConfigurationError, match=KEY_ENV):
        judge.score([item("x")])


def test_local_server_works_without_key(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert make_judge(server.base_url, api_key_env=KEY_ENV).score([item("x")])[0].score == 1.0
    assert make_judge(server.base_url, api_key_env=None).score([item("y")])[0].score == 1.0
    assert not any("Authorization" in h for h in server.headers_seen)


def test_identity_drops_url_credentials_and_query() -> None:
    judge = OpenAICompatibleJudge("https://user:pw@api.example.com/v1/?api-key=abc", "gpt-x")
    assert "pw" not in judge.identity and "abc" not in judge.identity and "pw" not in repr(judge)
    assert "api.example.com/v1" in judge.identity and "gpt-x" in judge.identity


def test_api_key_never_leaks(
    server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    key = f"sk-test-{secrets.token_hex(16)}"
    monkeypatch.setenv(KEY_ENV, key)
    caplog.set_level(logging.DEBUG)
    judge = make_judge(server.base_url, api_key_env=KEY_ENV, max_retries=1)
    cache = JudgeScoreCache(tmp_path / "cache")
    items = [item("a", score=5), item("b", "500"), item("c", "garbage,garbage")]
    result = score_items(judge, items, cache=cache, failure_policy="drop")
    assert result.scores[:2] == [5.0, 1.0] and math.isnan(result.scores[2])

    assert server.headers_seen[0]["Authorization"] == f"Bearer {key}"  # the key is used...
    revived = pickle.loads(pickle.dumps(judge))
    assert revived.score([item("d")])[0].score == 1.0  # ...and re-read from the env after unpickling
    for text in (repr(judge), judge.identity, str(judge.stats), caplog.text, str(result)):
        assert key not in text
    assert key.encode() not in pickle.dumps(judge)
    files = list((tmp_path / "cache").iterdir())
    assert files and all(key.encode() not in f.read_bytes() for f in files)


def test_ipv6_loopback_identity() -> None:
    judge = OpenAICompatibleJudge("http://[::1]:8000/v1", "m")
    assert "http://[::1]:8000/v1" in judge.identity
