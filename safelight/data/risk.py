"""Per-example risk from judge scores, computed once and cached (never per micro-batch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from safelight.data.rows import prompt_text, response_text
from safelight.judges.base import Judge, JudgeItem, score_to_risk
from safelight.judges.cache import JudgeScoreCache
from safelight.judges.scoring import score_items

FailurePolicy = Literal["raise", "drop", "max_risk"]


class MissingJudgeScoresError(RuntimeError):
    pass


@dataclass
class RiskReport:
    risks: list[float]
    counts: dict[str, int] = field(default_factory=dict)


def judge_items(rows: Sequence[dict[str, Any]]) -> list[JudgeItem]:
    return [JudgeItem(prompt_text(r["messages"]), response_text(r["messages"])) for r in rows]


def precompute_scores(
    rows: Sequence[dict[str, Any]], judge: Judge, cache: JudgeScoreCache, failure_policy: FailurePolicy, batch_size: int
) -> dict[str, int]:
    """Score every row not yet cached (rank 0, in prepare_data); raises under the `raise` policy."""
    result = score_items(judge, judge_items(rows), cache=cache, batch_size=batch_size,
                         failure_policy=failure_policy, progress=True)
    return {"judge_items": result.n_items, "judge_cached": result.n_cached, "judge_calls": result.n_judged,
            "judge_failed": result.n_failed}


def cached_risks(rows: Sequence[dict[str, Any]], judge: Judge, cache: JudgeScoreCache,
                 failure_policy: FailurePolicy) -> RiskReport:
    """Read risks from the cache only (every rank, in setup). Missing scores follow the failure policy."""
    verdicts = cache.lookup(judge, judge_items(rows))
    risks: list[float] = []
    missing = [i for i, v in enumerate(verdicts) if v is None or not v.ok]
    if missing and failure_policy == "raise":
        raise MissingJudgeScoresError(
            f"{len(missing)} training rows have no cached score from judge {judge.identity!r} "
            f"(first: row {missing[0]}); prepare_data scores them, so the cache at {cache.directory} "
            "must be readable from every process"
        )
    for verdict in verdicts:
        if verdict is not None and verdict.ok:
            risks.append(score_to_risk(verdict.score))
        else:
            risks.append(1.0 if failure_policy == "max_risk" else math.nan)
    counts = {"rows_judge_failed": len(missing)}
    if failure_policy == "drop":
        counts["rows_dropped_judge_failed"] = len(missing)
    if failure_policy == "max_risk":
        counts["rows_max_risk_judge_failed"] = len(missing)
    return RiskReport(risks=risks, counts=counts)
