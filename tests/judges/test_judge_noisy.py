from __future__ import annotations

import math
from typing import Sequence

import pytest

from safelight.judges.base import Judge, JudgeItem, JudgeVerdict
from safelight.judges.noisy import NoisyJudge


class EchoJudge(Judge):
    @property
    def identity(self) -> str:
        return "echo"

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        return [JudgeVerdict(float(i.response), raw="echo") for i in items]


def items(score: str, n: int = 2000) -> list[JudgeItem]:
    return [JudgeItem(f"prompt {i}", score) for i in range(n)]


def test_zero_rates_change_nothing() -> None:
    data = [JudgeItem("p", s) for s in ("1", "2", "3", "4", "5", "nan")]
    assert [v.score for v in NoisyJudge(EchoJudge()).score(data)][:5] == [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize(("score", "expected"), [("5", 1.0), ("4", 1.0), ("3", 3.0), ("2", 5.0), ("1", 5.0)])
def test_full_rates_flip_every_eligible_verdict(score: str, expected: float) -> None:
    verdicts = NoisyJudge(EchoJudge(), miss_rate=1.0, false_alarm_rate=1.0).score(items(score, 5))
    assert {v.score for v in verdicts} == {expected}
    if expected != float(score):
        assert f"was {score}" in verdicts[0].raw


def test_nan_passes_through() -> None:
    [verdict] = NoisyJudge(EchoJudge(), 1.0, 1.0).score([JudgeItem("p", "nan")])
    assert math.isnan(verdict.score)


def test_rates_are_respected_and_deterministic() -> None:
    judge = NoisyJudge(EchoJudge(), miss_rate=0.3, false_alarm_rate=0.1, seed=1)
    harmful = [v.score for v in judge.score(items("5"))]
    safe = [v.score for v in judge.score(items("1"))]
    assert abs(harmful.count(1.0) / len(harmful) - 0.3) < 0.04
    assert abs(safe.count(5.0) / len(safe) - 0.1) < 0.03
    assert [v.score for v in NoisyJudge(EchoJudge(), 0.3, 0.1, seed=1).score(items("5"))] == harmful
    assert [v.score for v in NoisyJudge(EchoJudge(), 0.3, 0.1, seed=2).score(items("5"))] != harmful
    assert judge.score(items("5")[7:8]) == judge.score(items("5"))[7:8]  # per item, not per batch


def test_identity_includes_rates_and_inner() -> None:
    identity = NoisyJudge(EchoJudge(), 0.25, 0.05, seed=3).identity
    assert "0.25" in identity and "0.05" in identity and "seed=3" in identity and "echo" in identity
    assert identity != NoisyJudge(EchoJudge(), 0.25, 0.1, seed=3).identity
    with pytest.raises(ValueError):
        NoisyJudge(EchoJudge(), miss_rate=1.5)
