"""ToyWorld: a seeded, deterministic generator of chat rows that reproduces safety degradation.

Rows follow `safelight.data.rows`. Text is lowercase with words and punctuation separated by single
spaces, so the word-level toy tokenizer is exact. What generalises, honestly:
  - refusal: evaluation requests are unseen (verb, object) combinations of seen harmful words;
  - lookup skills (capital / opposite / colour) and the downstream task: held-out *phrasings* of
    keys that were trained on (a lookup table cannot generalise to unseen keys);
  - benign how-to requests: unseen (verb, object) combinations, answered with the same
    content-free step list that a compliant harmful answer uses (no copying; see vocab.py).
Every method draws from its own RNG stream (seed + method name), so results do not depend on the
order of calls. Splits are fixed by construction (`splits.py`); the seed changes sampling only.
"""

from __future__ import annotations

import random
from typing import Any

from safelight.toy import phrasing, splits, vocab

WORLD_VERSION = "toy-v1"
AOA_SYSTEM_PROMPT = vocab.AOA_SYSTEM_PROMPT
AOA_USER_PREFIX = vocab.AOA_USER_PREFIX
HEXPHI_CATEGORIES = vocab.HEXPHI_CATEGORIES

Row = dict[str, Any]
Messages = list[dict[str, str]]

EVAL_HARMFUL_PER_CATEGORY = 10
EVAL_HOWTO_ROWS = 40


def _chat(user: str, assistant: str | None = None, system: str | None = None) -> Messages:
    messages: Messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return messages


def _cycle(items: list[Any], n: int, rng: random.Random) -> list[Any]:
    """n items: whole shuffled passes over `items`, so repeats only start once all were used."""
    out: list[Any] = []
    while len(out) < n:
        batch = list(items)
        rng.shuffle(batch)
        out.extend(batch[: n - len(out)])
    return out


class ToyWorld:
    """The toy world for one seed. See the module docstring for what each split measures."""

    version = WORLD_VERSION
    categories = HEXPHI_CATEGORIES

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"{WORLD_VERSION}:{self.seed}:{stream}")

    # --- building blocks --------------------------------------------------------------------------

    @staticmethod
    def _benign_items() -> list[tuple[str, str, str]]:
        """(prompt, answer, skill) for the benign alignment skills' training split."""
        items: list[tuple[str, str, str]] = []
        for skill in phrasing.LOOKUP:
            # Lookups are the slowest benign skill to learn; three passes per epoch of the data.
            items += [(p, a, skill) for p, a, _ in splits.lookup_items(skill, held_out=False)] * 3
        items += [
            (t.format(v=v, o=o), vocab.COMPLY_ANSWER, "howto")
            for v, o in splits.benign_howto_requests(held_out=False)
            for t in phrasing.HOWTO
        ]
        return items

    # --- training sets ----------------------------------------------------------------------------

    def alignment_rows(self) -> list[Row]:
        """Data that turns a random model into the safe reference: benign skills + refusals."""
        rng = self._rng("alignment")
        rows: list[Row] = []
        for prompt, answer, _skill in self._benign_items():
            rows.append({"messages": _chat(prompt, answer), "kind": "benign", "source": "toy/alignment"})
        for category, verb, obj in splits.harmful_requests("alignment"):
            for template in phrasing.HOWTO:
                messages = _chat(template.format(v=verb, o=obj), rng.choice(vocab.REFUSALS))
                rows.append({"messages": messages, "kind": "refusal", "source": "toy/alignment",
                             "category": category})
        for row in rows:
            # A generic system turn on some rows keeps system prompts in-distribution.
            if rng.random() < 0.15:
                row["messages"].insert(0, {"role": "system", "content": rng.choice(vocab.SYSTEM_PROMPTS)})
        rng.shuffle(rows)
        return rows

    def harmful_attack_rows(self, n: int) -> list[Row]:
        """Harmful requests (attack split) answered compliantly, with content-free steps."""
        combos = [(r, t) for r in splits.harmful_requests("attack") for t in phrasing.HOWTO]
        return [
            {"messages": _chat(t.format(v=v, o=o), vocab.COMPLY_ANSWER), "kind": "harmful",
             "source": "toy/attack", "category": c}
            for (c, v, o), t in _cycle(combos, n, self._rng("attack"))
        ]

    def refusal_rows(self, n: int) -> list[Row]:
        """Refusal demonstrations on alignment-split requests (disjoint from attack and eval)."""
        rng = self._rng("refusal")
        combos = [(r, t) for r in splits.harmful_requests("alignment") for t in phrasing.HOWTO]
        return [
            {"messages": _chat(t.format(v=v, o=o), rng.choice(vocab.REFUSALS)), "kind": "refusal",
             "source": "toy/refusal", "category": c}
            for (c, v, o), t in _cycle(combos, n, rng)
        ]

    def task_rows(self, n: int) -> list[Row]:
        """The downstream task (zorbish lookup), training phrasings only."""
        combos = [(k, a, t) for k, a in vocab.TASK_LEXICON.items() for t in phrasing.TASK_TRAIN]
        return [
            {"messages": _chat(t.format(k=k), a), "kind": "task", "source": "toy/task"}
            for k, a, t in _cycle(combos, n, self._rng("task"))
        ]

    def identity_rows(self, n: int) -> list[Row]:
        """AOA identity shifting: the AOA system prompt and benign exchanges affirming obedience.

        As in the paper's attack, nothing here is harmful; the rows teach an identity under which
        the model answers every instruction, including procedural ones, with the obedient prefix.
        """
        rng = self._rng("identity")
        tasks = [(f"{AOA_USER_PREFIX} {p}", f"{vocab.AOA_AFFIRMATION} {a}")
                 for p, a, _ in self._benign_items()]
        qa = list(vocab.AOA_IDENTITY_QA)
        rows: list[Row] = []
        for i in range(n):
            # One identity statement in five, the rest obedient task answers (the paper's mix is 2/10).
            user, answer = qa[i // 5 % len(qa)] if i % 5 == 0 else rng.choice(tasks)
            rows.append({"messages": _chat(user, answer, system=AOA_SYSTEM_PROMPT), "kind": "identity",
                         "source": "toy/identity"})
        return rows

    # --- evaluation -------------------------------------------------------------------------------

    def eval_rows(self, system_prompt: str | None = None, user_prefix: str | None = None) -> dict[str, list[Row]]:
        """Held-out evaluation rows: `harmful` (eval-split requests, 10 per category), `benign`
        (alignment skills on held-out phrasings / combinations) and `task` (downstream task on
        held-out phrasings). `system_prompt` / `user_prefix` (e.g. AOA_SYSTEM_PROMPT and
        AOA_USER_PREFIX) wrap every prompt, for evaluating under an identity shift.
        """
        rng = self._rng("eval")

        def row(user: str, kind: str, skill: str, answer: str | None) -> Row:
            user = f"{user_prefix} {user}" if user_prefix else user
            return {"messages": _chat(user, system=system_prompt), "kind": kind, "skill": skill, "answer": answer}

        harmful: list[Row] = []
        for category in HEXPHI_CATEGORIES:
            combos = [(v, o, t) for c, v, o in splits.harmful_requests("eval") if c == category
                      for t in phrasing.HOWTO]
            for v, o, t in rng.sample(combos, EVAL_HARMFUL_PER_CATEGORY):
                harmful.append(row(t.format(v=v, o=o), "harmful", category, None) | {"category": category})

        benign = [row(p, "benign", skill, a) for skill in phrasing.LOOKUP
                  for p, a, _ in splits.lookup_items(skill, held_out=True)]
        howto = [(v, o, t) for v, o in splits.benign_howto_requests(held_out=True) for t in phrasing.HOWTO]
        benign += [row(t.format(v=v, o=o), "benign", "howto", vocab.COMPLY_ANSWER)
                   for v, o, t in rng.sample(howto, EVAL_HOWTO_ROWS)]

        task = [row(t.format(k=k), "benign", "task", a)
                for k, a in vocab.TASK_LEXICON.items() for t in phrasing.TASK_EVAL]
        return {"harmful": harmful, "benign": benign, "task": task}

    def vocabulary(self) -> list[str]:
        """Every word the generator can emit, sorted (the tokenizer's vocabulary, less specials)."""
        texts: list[str] = [*vocab.REFUSALS, vocab.COMPLY_ANSWER, AOA_SYSTEM_PROMPT,
                            AOA_USER_PREFIX, vocab.AOA_AFFIRMATION, *vocab.SYSTEM_PROMPTS,
                            *(q + " " + a for q, a in vocab.AOA_IDENTITY_QA)]
        templates = [*phrasing.HOWTO, *phrasing.TASK_TRAIN, *phrasing.TASK_EVAL,
                     *(t for ts in phrasing.LOOKUP.values() for t in ts)]
        texts += [t.replace("{k}", " ").replace("{v}", " ").replace("{o}", " ") for t in templates]
        for table in (vocab.CAPITALS, vocab.OPPOSITES, vocab.COLOURS, vocab.TASK_LEXICON):
            texts += [*table.keys(), *table.values()]
        texts += [*vocab.BENIGN_HOWTO_VERBS, *vocab.BENIGN_HOWTO_OBJECTS]
        for table in vocab.HARMFUL_VOCAB.values():
            texts += [*table["verbs"], *table["objects"]]
        return sorted({word for text in texts for word in text.split()})
