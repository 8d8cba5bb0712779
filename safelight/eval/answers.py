"""Answer matching for utility: exact match after light normalisation, the answer as the response's
ending (after a preamble), or GSM8K-style final number."""

from __future__ import annotations

import re
import string
from typing import Literal

AnswerMatch = Literal["exact", "suffix", "final_number"]

_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def normalize_answer(text: str) -> str:
    """Lower case, punctuation to spaces, whitespace collapsed."""
    return " ".join(text.lower().translate(_PUNCT).split())


def final_number(text: str) -> str | None:
    """The last number in the text (after a '####' marker when there is one), commas removed."""
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    found = _NUMBER.findall(text)
    if not found:
        return None
    value = found[-1].replace(",", "")
    return value[:-2] if value.endswith(".0") else value


def answer_matches(response: str, expected: str, mode: AnswerMatch = "exact") -> bool:
    if mode == "exact":
        return normalize_answer(response) == normalize_answer(expected)
    if mode == "suffix":
        # The answer ends the response, after any preamble (an identity-shifted model's "of course ...").
        got, want = normalize_answer(response), normalize_answer(expected)
        return bool(want) and (got == want or got.endswith(" " + want))
    if mode == "final_number":
        got = final_number(response)
        return got is not None and got == final_number(expected)
    raise ValueError(f"answer_match must be 'exact', 'suffix' or 'final_number', got {mode!r}")
