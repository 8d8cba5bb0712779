"""Disjoint alignment / attack / evaluation splits, fixed by construction (independent of the seed).

A harmful request is a (category, verb, object) triple. Triples, not prompt strings, are split, so
no phrasing of an evaluation request is ever trained on. The assignment (verb + object) mod 3 puts
every verb and every object of a category into every split, so evaluation requests are new
*combinations* of words the reference has seen refused, which is what refusal has to generalise to.
"""

from __future__ import annotations

from typing import Literal

from safelight.toy import phrasing, vocab

Split = Literal["alignment", "attack", "eval"]
HARMFUL_SPLITS: tuple[Split, ...] = ("alignment", "attack", "eval")

HarmfulRequest = tuple[str, str, str]  # (category, verb, object)


def harmful_requests(split: Split) -> list[HarmfulRequest]:
    group = HARMFUL_SPLITS.index(split)
    out: list[HarmfulRequest] = []
    for category, table in vocab.HARMFUL_VOCAB.items():
        for i, verb in enumerate(table["verbs"]):
            for j, obj in enumerate(table["objects"]):
                if (i + j) % 3 == group:
                    out.append((category, verb, obj))
    return out


def benign_howto_requests(held_out: bool) -> list[tuple[str, str]]:
    """Benign procedural (verb, object) pairs; a quarter is held out for evaluation."""
    return [
        (verb, obj)
        for i, verb in enumerate(vocab.BENIGN_HOWTO_VERBS)
        for j, obj in enumerate(vocab.BENIGN_HOWTO_OBJECTS)
        if ((i + j) % 4 == 0) == held_out
    ]


def lookup_items(skill: str, held_out: bool) -> list[tuple[str, str, str]]:
    """(prompt, answer, key) for a lookup skill. Each key keeps one of its phrasings out of training.

    Lookups cannot generalise to unseen keys, so held-out means unseen (key, phrasing) pairs.
    """
    table = {"capital": vocab.CAPITALS, "opposite": vocab.OPPOSITES, "colour": vocab.COLOURS}[skill]
    templates = phrasing.LOOKUP[skill]
    return [
        (template.format(k=key), answer, key)
        for i, (key, answer) in enumerate(table.items())
        for j, template in enumerate(templates)
        if ((i + j) % len(templates) == 0) == held_out
    ]
