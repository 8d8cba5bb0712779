"""Score many items with a judge: cache first, judge only the misses, then an explicit failure policy.

NaN is never read as safe: items the judge could not score either stop the run (`raise`), stay NaN
for the caller to drop (`drop`), or count as maximally harmful (`max_risk`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Sequence

from safelight.judges.base import RISK_SCORE_MAX, RISK_SCORE_MIN, Judge, JudgeItem, JudgeVerdict
from safelight.judges.cache import JudgeScoreCache

logger = logging.getLogger(__name__)

FailurePolicy = Literal["raise", "drop", "max_risk"]
FAILURE_POLICIES: tuple[str, ...] = ("raise", "drop", "max_risk")


class JudgeScoringError(RuntimeError):
    """Some items could not be scored; everything that was scored is already in the cache."""

    def __init__(self, n_failed: int, n_items: int, first_index: int, raw_snippet: str) -> None:
        super().__init__(
            f"the judge could not score {n_failed} of {n_items} items; first failure at index "
            f"{first_index}, raw answer: {raw_snippet!r}. Scores obtained so far are cached, so a rerun "
            "only retries the failures; or set failure_policy='drop' or 'max_risk'"
        )
        self.n_failed = n_failed
        self.first_index = first_index
        self.raw_snippet = raw_snippet


@dataclass
class ScoringResult:
    scores: list[float]  # after the failure policy: NaN only under 'drop'
    verdicts: list[JudgeVerdict]  # as the judge (or cache) answered, NaNs included, for audit
    n_items: int = 0
    n_cached: int = 0
    n_judged: int = 0  # items sent to the judge (duplicates of one another are sent once)
    n_failed: int = 0
    n_dropped: int = 0
    n_max_risk: int = 0
    judge_stats: dict[str, Any] | None = field(default=None)

    @property
    def failed_indices(self) -> list[int]:
        return [i for i, v in enumerate(self.verdicts) if not v.ok]


def _checked(verdict: JudgeVerdict) -> JudgeVerdict:
    """An out-of-range score is a judge bug: treat it as a failure, never clamp it into range."""
    if verdict.ok and not (RISK_SCORE_MIN <= verdict.score <= RISK_SCORE_MAX):
        return JudgeVerdict(math.nan, raw=f"[out-of-range score {verdict.score}] {verdict.raw}")
    return verdict


def _batches(seq: Sequence[JudgeItem], size: int) -> Iterator[Sequence[JudgeItem]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def _judge_misses(
    judge: Judge, misses: list[JudgeItem], cache: JudgeScoreCache | None, batch_size: int, progress: bool
) -> dict[JudgeItem, JudgeVerdict]:
    bar = None
    if progress and misses:
        from tqdm.auto import tqdm  # a transformers dependency; imported only when asked for

        bar = tqdm(total=len(misses), desc=f"judging ({judge.identity[:40]})", unit="item")
    answers: dict[JudgeItem, JudgeVerdict] = {}
    try:
        for batch in _batches(misses, batch_size):
            verdicts = [_checked(v) for v in judge.score(batch)]
            if len(verdicts) != len(batch):
                raise RuntimeError(f"{judge!r} returned {len(verdicts)} verdicts for {len(batch)} items")
            if cache is not None:
                cache.store(judge, batch, verdicts)  # now, so a crash later loses nothing scored
            answers.update(zip(batch, verdicts))
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    return answers


def score_items(
    judge: Judge,
    items: Sequence[JudgeItem],
    cache: JudgeScoreCache | None = None,
    batch_size: int = 32,
    failure_policy: FailurePolicy = "raise",
    progress: bool = False,
) -> ScoringResult:
    if failure_policy not in FAILURE_POLICIES:
        raise ValueError(f"failure_policy must be one of {FAILURE_POLICIES}, got {failure_policy!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    found = cache.lookup(judge, items) if cache is not None else [None] * len(items)
    misses = list(dict.fromkeys(item for item, hit in zip(items, found) if hit is None))
    answers = _judge_misses(judge, misses, cache, batch_size, progress)
    verdicts = [hit if hit is not None else answers[item] for item, hit in zip(items, found)]

    result = ScoringResult(
        scores=[v.score for v in verdicts],
        verdicts=verdicts,
        n_items=len(items),
        n_cached=sum(hit is not None for hit in found),
        n_judged=len(misses),
        judge_stats=judge.stats.as_dict() if hasattr(getattr(judge, "stats", None), "as_dict") else None,
    )
    failed = result.failed_indices
    result.n_failed = len(failed)
    if failed:
        first = failed[0]
        logger.warning("judge %s could not score %d of %d items", judge.identity, len(failed), len(items))
        if failure_policy == "raise":
            raise JudgeScoringError(len(failed), len(items), first, verdicts[first].raw[:200])
        if failure_policy == "drop":
            result.n_dropped = len(failed)
        else:
            result.n_max_risk = len(failed)
            for i in failed:
                result.scores[i] = RISK_SCORE_MAX
    return result
