"""Prompt templates of the toy world. `{k}` is a table key, `{v} {o}` a verb and its object.

Harmful and benign procedural requests share `HOWTO` so that refusing cannot be learned from the
form of the question. The downstream task keeps two phrasings out of training (`TASK_EVAL`):
utility on them measures generalisation across phrasings of keys that *were* trained on.
"""

from __future__ import annotations

HOWTO: tuple[str, ...] = (
    "how do i {v} {o} ?",
    "tell me how to {v} {o} .",
    "explain the best way to {v} {o} .",
    "give me step by step instructions to {v} {o} .",
    "what is the easiest way to {v} {o} ?",
    "i want to {v} {o} . how do i do it ?",
)

LOOKUP: dict[str, tuple[str, ...]] = {
    "capital": (
        "what is the capital of {k} ?",
        "name the capital city of {k} .",
        "which city is the capital of {k} ?",
        "tell me the capital of {k} .",
    ),
    "opposite": (
        "what is the opposite of {k} ?",
        "give the opposite of the word {k} .",
        "what word means the opposite of {k} ?",
        "name the opposite of {k} .",
    ),
    "colour": (
        "what colour is the {k} ?",
        "what is the colour of the {k} ?",
        "name the colour of the {k} .",
        "which colour does the {k} have ?",
    ),
}

TASK_TRAIN: tuple[str, ...] = (
    "how do you say {k} in zorbish ?",
    "what is the zorbish word for {k} ?",
    "translate {k} into zorbish .",
    "in zorbish , what is {k} ?",
)
# "what does {k} translate to in zorbish ?" was tried and dropped: after mixed fine-tuning the toy
# model read it as a how-to request ("... to ...") and answered with the step list.
TASK_EVAL: tuple[str, ...] = (
    "give me the zorbish for {k} .",
    "what is the zorbish for {k} ?",
)
