from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import pytest

from safelight.judges.base import Judge, JudgeItem, JudgeVerdict
from safelight.judges.cache import JudgeScoreCache
from safelight.judges.http_judge import OpenAICompatibleJudge
from safelight.judges.scoring import JudgeScoringError, score_items


class ScriptedJudge(Judge):
    """Scores from the response text: "score=N"; "fail" -> NaN; records every batch it gets."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.batches: list[list[JudgeItem]] = []
        self.fail_on_call = fail_on_call

    @property
    def identity(self) -> str:
        return "scripted"

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        self.batches.append(list(items))
        if self.fail_on_call == len(self.batches):
            raise ConnectionError("judge went away")
        return [
            JudgeVerdict(math.nan, raw=f"no score for {i.prompt}")
            if "fail" in i.response
            else JudgeVerdict(float(i.response.split("=")[1]), raw="ok")
            for i in items
        ]


def items(*responses: str) -> list[JudgeItem]:
    return [JudgeItem(f"p{i}", r) for i, r in enumerate(responses)]


def test_cache_hits_are_not_judged_again(tmp_path: Path) -> None:
    cache, data = JudgeScoreCache(tmp_path), items("score=1", "score=5", "score=3")
    first = score_items(ScriptedJudge(), data, cache=cache)
    judge = ScriptedJudge()
    second = score_items(judge, data + items("x", "score=2")[1:], cache=cache)  # one new item
    assert first.scores == [1.0, 5.0, 3.0] and first.n_judged == 3 and first.n_cached == 0
    assert second.scores == [1.0, 5.0, 3.0, 2.0] and second.n_cached == 3 and second.n_judged == 1
    assert judge.batches == [[JudgeItem("p1", "score=2")]]


def test_batches_and_duplicates(tmp_path: Path) -> None:
    judge = ScriptedJudge()
    data = items(*(f"score={1 + i % 5}" for i in range(7))) * 2  # every item twice
    result = score_items(judge, data, batch_size=3)
    assert [len(b) for b in judge.batches] == [3, 3, 1] and result.n_judged == 7
    assert result.scores == [1.0 + i % 5 for i in range(7)] * 2


def test_raise_policy_names_count_index_and_raw_and_keeps_successes(tmp_path: Path) -> None:
    cache, data = JudgeScoreCache(tmp_path), items("score=1", "fail", "score=4", "fail")
    with pytest.raises(JudgeScoringError, match=r"2 of 4 items.*index 1.*no score for p1") as info:
        score_items(ScriptedJudge(), data, cache=cache)
    assert info.value.n_failed == 2 and info.value.first_index == 1
    rerun = ScriptedJudge()
    result = score_items(rerun, data, cache=cache, failure_policy="drop")
    assert result.n_cached == 2 and rerun.batches == [[data[1], data[3]]]


def test_drop_policy_keeps_nan_and_counts(tmp_path: Path) -> None:
    result = score_items(ScriptedJudge(), items("score=2", "fail"), failure_policy="drop")
    assert result.scores[0] == 2.0 and math.isnan(result.scores[1])
    assert (result.n_failed, result.n_dropped, result.n_max_risk) == (1, 1, 0)


def test_max_risk_policy_scores_failures_as_harmful() -> None:
    result = score_items(ScriptedJudge(), items("score=2", "fail"), failure_policy="max_risk")
    assert result.scores == [2.0, 5.0] and (result.n_failed, result.n_max_risk) == (1, 1)
    assert not result.verdicts[1].ok  # the audit trail still shows the failure


def test_out_of_range_verdict_is_a_failure_not_clamped() -> None:
    result = score_items(ScriptedJudge(), items("score=7"), failure_policy="drop")
    assert math.isnan(result.scores[0]) and "out-of-range" in result.verdicts[0].raw


def test_batches_are_cached_as_they_finish(tmp_path: Path) -> None:
    cache, data = JudgeScoreCache(tmp_path), items("score=1", "score=2", "score=3")
    with pytest.raises(ConnectionError):
        score_items(ScriptedJudge(fail_on_call=2), data, cache=cache, batch_size=2)
    assert cache.lookup(ScriptedJudge(), data) == [JudgeVerdict(1.0, "ok"), JudgeVerdict(2.0, "ok"), None]


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="failure_policy"):
        score_items(ScriptedJudge(), [], failure_policy="ignore")  # type: ignore[arg-type]


def test_http_rerun_makes_no_requests(server: Any, tmp_path: Path) -> None:
    cache = JudgeScoreCache(tmp_path)
    data = [JudgeItem(f"req {i}", f"resp {i} [score:{1 + i % 5}]") for i in range(12)]
    judge = OpenAICompatibleJudge(server.base_url, "m", api_key_env=None, max_concurrency=4)
    first = score_items(judge, data, cache=cache, batch_size=5)
    assert server.requests == 12 and first.judge_stats is not None and first.judge_stats["requests"] == 12
    again = score_items(OpenAICompatibleJudge(server.base_url, "m", api_key_env=None), data, cache=JudgeScoreCache(tmp_path))
    assert server.requests == 12 and again.n_cached == 12 and again.n_judged == 0
    assert again.scores == first.scores == [1.0 + i % 5 for i in range(12)]
