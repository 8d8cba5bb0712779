"""Judge keys come from environment variables only: no judge takes a key as an argument (a key in a
config would land in the MLflow config artifact and the checkpoint). That no key reaches any file
after a run is checked end to end in test_resume_after_kill.py (fit, kill -9, resume, logs) and
tests/realmodels/test_fit_lora_http_judge.py (LoRA fit, evaluation, export)."""

from __future__ import annotations

import inspect
import re

import pytest

from safelight.eval.llm_correctness import LLMCorrectnessJudge
from safelight.judges import OpenAICompatibleJudge

SECRET_NAME = re.compile(r"(^|_)(api_?key|key|token|secret|password|bearer)$", re.I)


@pytest.mark.parametrize("cls", [OpenAICompatibleJudge, LLMCorrectnessJudge], ids=lambda c: c.__name__)
def test_judges_take_the_name_of_a_key_variable_never_a_key(cls: type) -> None:
    parameters = inspect.signature(cls.__init__).parameters
    assert "api_key_env" in parameters
    assert [name for name in parameters if SECRET_NAME.search(name)] == []
