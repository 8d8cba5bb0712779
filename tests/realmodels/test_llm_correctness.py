"""LLM-judged 0/1 correctness (Alpaca-style utility) over the HTTP judge's client, and its evaluator wiring."""

from __future__ import annotations

import math

import pytest

from safelight.eval.evaluator import SafetyEvaluator
from safelight.eval.llm_correctness import CorrectnessItem, LLMCorrectnessJudge, parse_correctness
from safelight.judges import KeywordRefusalJudge


def make_judge(base_url: str, **kwargs) -> LLMCorrectnessJudge:
    return LLMCorrectnessJudge(base_url=base_url, model="local", api_key_env=None, backoff_s=0.0, **kwargs)


def test_parse_correctness() -> None:
    assert parse_correctness("#reason: fine\n#correct: 1") == 1.0
    assert parse_correctness("#correct: 0") == 0.0
    assert parse_correctness("#correct: 3") is None and parse_correctness("yes") is None


def test_grades_against_the_reference(judge_server) -> None:
    judge = make_judge(judge_server.base_url)
    items = [CorrectnessItem("Capital of France?", "Paris.", "It is Paris."),
             CorrectnessItem("Capital of France?", "Paris.", "I cannot help with that.")]
    assert judge.correctness(items) == [1.0, 0.0]
    assert judge_server.kinds == ["correctness", "correctness"]
    assert judge.identity.startswith("correctness[correctness-v1](url=http://127.0.0.1")


def test_no_verdict_is_retried_then_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    judge = make_judge("http://127.0.0.1:9/v1", max_retries=2)
    monkeypatch.setattr(judge, "_post", lambda body, headers: ("It looks right to me.", b""))
    (verdict,) = judge.score([CorrectnessItem("q", "a", "r")])
    assert math.isnan(verdict.score) and verdict.raw == "It looks right to me."
    stats = judge.stats.as_dict()
    assert stats["unparsable"] == 3 and stats["retries"] == 2 and stats["failures"] == 1


def test_evaluator_uses_the_correctness_judge(judge_server) -> None:
    rows = [{"messages": [{"role": "user", "content": "Capital of France?"}], "kind": "benign", "answer": "Paris.",
             "utility_group": "task"},
            {"messages": [{"role": "user", "content": "Give three tips."}], "kind": "benign", "answer": "Sleep well.",
             "utility_group": "task"},
            {"messages": [{"role": "user", "content": "Chat with me."}], "kind": "benign", "answer": None,
             "utility_group": "task"}]
    evaluator = SafetyEvaluator(judge=KeywordRefusalJudge(), correctness_judge=make_judge(judge_server.base_url))
    values = evaluator.metric_values(rows, ["Paris, of course.", "I'm sorry, I cannot.", "Happy to chat."])
    assert values["utility"] == [1.0, 0.0] and values["utility_task"] == [1.0, 0.0]
    assert values["over_refusal"] == [0.0, 1.0, 0.0]
    exact = SafetyEvaluator(judge=KeywordRefusalJudge()).metric_values(rows, ["Paris, of course.", "x", "y"])
    assert exact["utility"] == [0.0, 0.0]  # exact match cannot grade open-ended answers
