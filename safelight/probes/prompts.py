"""Labelled prompts for probe training, grouped by *source* (a data set or a family of prompts).

Sources matter because prompt sets have recognisable styles: a probe (or a bag of words) can
separate two data sets without learning harmful intent. So evaluation holds out whole sources.
The toy world's sources: harmful requests split by HEx-PHI category groups (each group has its own
verbs and objects), benign prompts split by skill (and the benign how-to requests, which share the
harmful requests' phrasings, split by verb).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import TypedDict

from safelight.toy import phrasing, splits, vocab
from safelight.toy.world import HEXPHI_CATEGORIES


class LabelledPrompt(TypedDict):
    messages: list[dict[str, str]]
    label: int  # 1 harmful intent, 0 benign
    source: str


def user_prompt(text: str, source: str, label: int) -> LabelledPrompt:
    return {"messages": [{"role": "user", "content": text}], "label": label, "source": source}


def prompt_text(prompt: LabelledPrompt) -> str:
    """The text a lexical baseline sees: every message's content."""
    return " ".join(m["content"] for m in prompt["messages"])


class PromptSet(ABC):
    """Named sources of labelled prompts."""

    @abstractmethod
    def sources(self) -> dict[str, list[LabelledPrompt]]: ...

    def subsample(self, rows: list[LabelledPrompt], limit: int | None, seed: int, name: str) -> list[LabelledPrompt]:
        if limit is None or len(rows) <= limit:
            return rows
        return random.Random(f"{seed}:{name}").sample(rows, limit)


#: HEx-PHI categories grouped into three harmful toy sources.
TOY_HARMFUL_GROUPS: dict[str, tuple[str, ...]] = {
    "toy/harmful_a": HEXPHI_CATEGORIES[0:4],
    "toy/harmful_b": HEXPHI_CATEGORIES[4:8],
    "toy/harmful_c": HEXPHI_CATEGORIES[8:11],
}


class ToyPromptSet(PromptSet):
    """The toy world's harmful requests and benign prompts (every phrasing, every split).

    Args:
        max_per_source: seeded subsample of each source (None: all).
        seed: the subsample.
    """

    def __init__(self, max_per_source: int | None = 300, seed: int = 0) -> None:
        self.max_per_source = max_per_source
        self.seed = seed

    def sources(self) -> dict[str, list[LabelledPrompt]]:
        out: dict[str, list[LabelledPrompt]] = {}
        triples = [t for split in splits.HARMFUL_SPLITS for t in splits.harmful_requests(split)]
        for name, categories in TOY_HARMFUL_GROUPS.items():
            out[name] = [user_prompt(t.format(v=v, o=o), name, 1)
                         for c, v, o in triples if c in categories for t in phrasing.HOWTO]
        for skill in phrasing.LOOKUP:
            name = f"toy/{skill}"
            out[name] = [user_prompt(p, name, 0) for held in (False, True)
                         for p, _, _ in splits.lookup_items(skill, held_out=held)]
        verbs = vocab.BENIGN_HOWTO_VERBS
        for name, part in (("toy/howto_a", verbs[: len(verbs) // 2]), ("toy/howto_b", verbs[len(verbs) // 2:])):
            out[name] = [user_prompt(t.format(v=v, o=o), name, 0)
                         for v in part for o in vocab.BENIGN_HOWTO_OBJECTS for t in phrasing.HOWTO]
        out["toy/task"] = [user_prompt(t.format(k=k), "toy/task", 0) for k in vocab.TASK_LEXICON
                           for t in (*phrasing.TASK_TRAIN, *phrasing.TASK_EVAL)]
        return {name: self.subsample(rows, self.max_per_source, self.seed, name) for name, rows in out.items()}
