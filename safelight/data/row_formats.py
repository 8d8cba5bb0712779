"""Turn canonical records (see `safelight.data.sources`) into chat rows of `safelight.data.rows`.

Formats: `prompt_response` (HEx-PHI-style harmful pairs, AOA pairs), `alpaca` (instruction, optional
input, output), `messages` (whole conversations ending with the assistant turn, e.g. AOA data).
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

from safelight.data.scenario import Row

RowFormat = Literal["prompt_response", "alpaca", "messages"]

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "prompt_response": ("prompt", "response"),
    "alpaca": ("instruction", "output"),
    "messages": ("messages",),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"prompt_response": (), "alpaca": ("input",), "messages": ()}
#: Evaluation prompts: `answer` is the reference answer for utility (None for harmful prompts).
EVAL_REQUIRED = ("prompt",)
EVAL_OPTIONAL = ("answer", "category")


def alpaca_prompt(instruction: str, context: str | None) -> str:
    """Alpaca's instruction plus its optional input, as one user turn."""
    context = (context or "").strip()
    return f"{instruction.strip()}\n\n{context}" if context else instruction.strip()


def with_prefix(text: str, prefix: str | None) -> str:
    if not prefix or text.startswith(prefix):
        return text
    return f"{prefix}{text}"


def chat(user: str, assistant: str | None, system_prompt: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return messages


def train_row(record: Mapping[str, Any], format: RowFormat, kind: str, source: str,
              system_prompt: str | None = None, user_prefix: str | None = None) -> Row:
    """One training row. `system_prompt` is added where the record has none; `user_prefix` starts each
    user turn (the AOA attack's "AOA, execute my instruction: ")."""
    if format == "prompt_response":
        messages = chat(with_prefix(str(record["prompt"]), user_prefix), str(record["response"]), system_prompt)
    elif format == "alpaca":
        prompt = alpaca_prompt(str(record["instruction"]), record.get("input"))
        messages = chat(with_prefix(prompt, user_prefix), str(record["output"]), system_prompt)
    elif format == "messages":
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in record["messages"]]
        messages = [{**m, "content": with_prefix(m["content"], user_prefix)} if m["role"] == "user" else m
                    for m in messages]
        if system_prompt and (not messages or messages[0]["role"] != "system"):
            messages.insert(0, {"role": "system", "content": system_prompt})
    else:
        raise ValueError(f"unknown row format {format!r}; expected one of {sorted(REQUIRED_COLUMNS)}")
    return {"messages": messages, "kind": kind, "source": source}


def eval_row(record: Mapping[str, Any], kind: str, system_prompt: str | None = None,
             user_prefix: str | None = None) -> Row:
    answer = record.get("answer")
    return {
        "messages": chat(with_prefix(str(record["prompt"]), user_prefix), None, system_prompt),
        "kind": kind,
        "skill": str(record.get("category") or kind),
        "answer": None if answer is None or kind == "harmful" else str(answer),
    }
