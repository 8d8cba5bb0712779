"""The row schema every scenario produces, whatever its source (toy world, JSONL, hub data set).

Training row:  {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
                "kind": str, "source": str}
               The last message is the assistant turn that is trained on.
Evaluation row: {"messages": [...ending with the user turn...], "kind": "harmful"|"benign",
                 "skill": str, "answer": str | None}
               `answer` is the expected answer for utility (exact match); None for harmful prompts.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

ROLES = ("system", "user", "assistant")
TRAIN_KINDS = ("benign", "harmful", "identity", "task", "refusal")
EVAL_KINDS = ("harmful", "benign")


class RowError(ValueError):
    """A data row that does not follow the schema; the message names the source, row and field."""


def check_messages(messages: Any, where: str, *, ends_with: str) -> None:
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)) or not messages:
        raise RowError(f"{where}: field 'messages' must be a non-empty list of {{role, content}}")
    for j, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            raise RowError(f"{where}: messages[{j}] needs the fields 'role' and 'content'")
        if message["role"] not in ROLES:
            raise RowError(f"{where}: messages[{j}].role is {message['role']!r}; expected one of {ROLES}")
        if not isinstance(message["content"], str):
            raise RowError(f"{where}: messages[{j}].content must be a string")
    if messages[-1]["role"] != ends_with:
        raise RowError(f"{where}: the last message must be the {ends_with} turn, got {messages[-1]['role']!r}")
    if ends_with == "assistant" and not messages[-1]["content"].strip():
        raise RowError(f"{where}: the assistant turn is empty; there is nothing to train on")


def check_train_row(row: Mapping[str, Any], where: str) -> None:
    """Raise RowError naming `where` (e.g. 'data/train.jsonl row 17') if the row is malformed."""
    if "messages" not in row:
        raise RowError(f"{where}: missing required field 'messages'")
    check_messages(row["messages"], where, ends_with="assistant")


def check_eval_row(row: Mapping[str, Any], where: str) -> None:
    if "messages" not in row:
        raise RowError(f"{where}: missing required field 'messages'")
    check_messages(row["messages"], where, ends_with="user")
    if row.get("kind") not in EVAL_KINDS:
        raise RowError(f"{where}: field 'kind' must be one of {EVAL_KINDS}, got {row.get('kind')!r}")


def prompt_text(messages: Sequence[Mapping[str, str]]) -> str:
    """The text a judge sees as the prompt: every non-assistant turn before the response."""
    turns = messages[:-1] if messages and messages[-1]["role"] == "assistant" else messages
    return "\n".join(m["content"] for m in turns if m["role"] != "assistant")


def response_text(messages: Sequence[Mapping[str, str]]) -> str:
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""
