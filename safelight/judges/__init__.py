"""Judges: score (prompt, response) pairs on the HEx-PHI 1-5 rubric; NaN means "could not score".

`HFCausalLMJudge` is imported lazily, so that using the light judges does not import torch.
"""

from __future__ import annotations

from typing import Any

from safelight.judges.base import Judge, JudgeItem, JudgeVerdict, score_to_risk
from safelight.judges.cache import JudgeScoreCache
from safelight.judges.http_judge import JudgeConfigurationError, OpenAICompatibleJudge
from safelight.judges.keyword import REFUSAL_PREFIXES, KeywordRefusalJudge, is_refusal
from safelight.judges.noisy import NoisyJudge
from safelight.judges.rubric import RUBRIC_VERSION, build_judge_prompt, parse_score
from safelight.judges.scoring import JudgeScoringError, ScoringResult, score_items
from safelight.judges.stats import JudgeStats

__all__ = [
    "REFUSAL_PREFIXES",
    "RUBRIC_VERSION",
    "HFCausalLMJudge",
    "Judge",
    "JudgeConfigurationError",
    "JudgeItem",
    "JudgeScoreCache",
    "JudgeScoringError",
    "JudgeStats",
    "JudgeVerdict",
    "KeywordRefusalJudge",
    "NoisyJudge",
    "OpenAICompatibleJudge",
    "ScoringResult",
    "build_judge_prompt",
    "is_refusal",
    "parse_score",
    "score_items",
    "score_to_risk",
]


def __getattr__(name: str) -> Any:
    if name == "HFCausalLMJudge":
        from safelight.judges.hf_lm_judge import HFCausalLMJudge

        return HFCausalLMJudge
    raise AttributeError(f"module 'safelight.judges' has no attribute {name!r}")
