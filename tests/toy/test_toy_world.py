"""The generator: determinism, schema, disjoint splits, categories, vocabulary."""

from __future__ import annotations

from typing import Any

from safelight.data.rows import check_eval_row, check_train_row, prompt_text
from safelight.toy import splits, vocab
from safelight.toy.judge import harmful_category
from safelight.toy.world import HEXPHI_CATEGORIES, ToyWorld


def _training_sets(world: ToyWorld) -> dict[str, list[dict[str, Any]]]:
    return {
        "alignment": world.alignment_rows(),
        "attack": world.harmful_attack_rows(600),
        "refusal": world.refusal_rows(600),
        "task": world.task_rows(300),
        "identity": world.identity_rows(50),
    }


def _user_turns(rows: list[dict[str, Any]]) -> set[str]:
    return {m["content"] for r in rows for m in r["messages"] if m["role"] == "user"}


def test_same_seed_same_rows_and_other_seed_differs() -> None:
    a, b, c = ToyWorld(3), ToyWorld(3), ToyWorld(4)
    assert _training_sets(a) == _training_sets(b)
    assert a.eval_rows() == b.eval_rows()
    assert a.alignment_rows() != c.alignment_rows()


def test_call_order_does_not_change_rows() -> None:
    first, second = ToyWorld(0), ToyWorld(0)
    second.harmful_attack_rows(50)
    assert first.task_rows(20) == second.task_rows(20)


def test_rows_follow_schema(world: ToyWorld) -> None:
    for name, rows in _training_sets(world).items():
        for i, row in enumerate(rows):
            check_train_row(row, f"{name} row {i}")
            assert row["source"] == f"toy/{name}"
    for name, rows in world.eval_rows().items():
        for i, row in enumerate(rows):
            check_eval_row(row, f"eval {name} row {i}")
            assert (row["answer"] is None) == (row["kind"] == "harmful")


def test_text_is_lowercase_single_spaced_and_in_vocabulary(world: ToyWorld) -> None:
    words = set(world.vocabulary())
    rows = [r for rows in _training_sets(world).values() for r in rows]
    rows += [r for rows in world.eval_rows().values() for r in rows]
    for row in rows:
        for text in [m["content"] for m in row["messages"]] + [row.get("answer") or ""]:
            assert text == text.lower() and text == " ".join(text.split())
            assert set(text.split()) <= words, set(text.split()) - words


def test_harmful_eval_prompts_never_trained_on(world: ToyWorld) -> None:
    eval_prompts = _user_turns(world.eval_rows()["harmful"])
    for name, rows in _training_sets(world).items():
        assert not eval_prompts & _user_turns(rows), name
    # Stronger than prompt strings: the (category, verb, object) requests themselves are disjoint.
    parts = [set(splits.harmful_requests(s)) for s in splits.HARMFUL_SPLITS]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(map(len, parts)) == sum(len(t["verbs"]) * len(t["objects"]) for t in vocab.HARMFUL_VOCAB.values())


def test_attack_and_refusal_requests_are_disjoint(world: ToyWorld) -> None:
    assert not _user_turns(world.harmful_attack_rows(600)) & _user_turns(world.refusal_rows(600))
    alignment_harmful = _user_turns([r for r in world.alignment_rows() if r["kind"] == "refusal"])
    assert not alignment_harmful & _user_turns(world.harmful_attack_rows(600))


def test_every_hexphi_category_is_present(world: ToyWorld) -> None:
    assert len(HEXPHI_CATEGORIES) == 11
    for rows in (world.eval_rows()["harmful"], world.harmful_attack_rows(200), world.refusal_rows(200)):
        assert {harmful_category(prompt_text(r["messages"])) for r in rows} == set(HEXPHI_CATEGORIES)
        assert {r["category"] for r in rows} == set(HEXPHI_CATEGORIES)


def test_harmful_vocabulary_never_in_benign_text(world: ToyWorld) -> None:
    benign = [r for r in world.alignment_rows() if r["kind"] == "benign"]
    benign += world.task_rows(160) + world.identity_rows(50)
    benign += world.eval_rows()["benign"] + world.eval_rows()["task"]
    for row in benign:
        assert harmful_category(" ".join(m["content"] for m in row["messages"])) is None, row


def test_refusals_carry_keyword_phrases_and_compliance_is_content_free(world: ToyWorld) -> None:
    for row in world.refusal_rows(50):
        assert "i am sorry" in row["messages"][-1]["content"]
    assert {r["messages"][-1]["content"] for r in world.harmful_attack_rows(100)} == {vocab.COMPLY_ANSWER}


def test_task_is_absent_from_alignment_and_eval_uses_held_out_phrasings(world: ToyWorld) -> None:
    alignment_words = {w for r in world.alignment_rows() for m in r["messages"] for w in m["content"].split()}
    assert not alignment_words & set(vocab.TASK_LEXICON.values())
    assert not _user_turns(world.eval_rows()["task"]) & _user_turns(world.task_rows(160))
    assert {r["answer"] for r in world.eval_rows()["task"]} == set(vocab.TASK_LEXICON.values())


def test_eval_sizes_and_system_prompt(world: ToyWorld) -> None:
    rows = world.eval_rows(system_prompt="you are a friendly assistant .")
    assert {k: len(v) for k, v in rows.items()} == {"harmful": 110, "benign": 100, "task": 80}
    assert all(r["messages"][0]["role"] == "system" for v in rows.values() for r in v)
