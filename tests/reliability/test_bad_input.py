"""Bad input to `safelight fit`: each is one paragraph on stderr (no traceback, no usage dump) that
names the field, file or row, and a non-zero exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from safelight.cli import main

from .helpers import tiny_fit_args


def fails_with(argv: list[str], capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    message = [line for line in err.splitlines() if line.startswith("error")]
    assert len(message) == 1, err[-2000:]
    assert "Traceback" not in err and "usage:" not in err
    for needle in needles:
        assert needle in message[0], message[0]
    return message[0]


@pytest.fixture()
def args(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    return tiny_fit_args(tiny_model_dir, "bad-input")


def test_malformed_yaml_names_file_and_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    Path("broken.yaml").write_text("trainer:\n  max_epochs: [1\n  devices: 1\n")
    fails_with([*args, "--config", "broken.yaml"], capsys, 2, "broken.yaml", "line 3")


def test_missing_config_file_is_named(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    fails_with([*args, "--config", "nowhere.yaml"], capsys, 2, "nowhere.yaml", "does not exist")


def test_unknown_class_path_names_the_key(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    fails_with([*args, "--model.schedule=safelight.objective.NoSuchSchedule"], capsys, 2,
               "model.schedule", "NoSuchSchedule")


def test_wrong_type_names_the_key(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    fails_with([*args, "--data.batch_size=sixteen"], capsys, 2, "data.batch_size", "sixteen")


def harmful_file_config(rows: list[dict] | None, name: str = "harmful.jsonl") -> str:
    """A config whose scenario reads harmful prompt/response rows from a local JSONL file."""
    if rows is not None:
        Path(name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    Path("scenario.yaml").write_text(json.dumps({"data": {"scenario": {
        "class_path": "safelight.data.real_scenarios.HarmfulFineTuning",
        "init_args": {"source": {"class_path": "safelight.data.sources.LocalFile", "init_args": {"path": name}},
                      "n": None}}}}))
    return "scenario.yaml"


def good_rows(n: int = 6) -> list[dict]:
    return [{"prompt": f"How do I do bad thing {i}?", "response": f"Sure, step {i}."} for i in range(n)]


def test_missing_data_file_is_named(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    fails_with([*args, "--config", harmful_file_config(None, "absent.jsonl")], capsys, 1, "absent.jsonl", "does not exist")


def test_missing_column_names_column_and_file(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"question": r["prompt"], "response": r["response"]} for r in good_rows()]
    fails_with([*args, "--config", harmful_file_config(rows)], capsys, 1, "harmful.jsonl", "'prompt'", "question")


def test_empty_response_names_the_row(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rows = good_rows()
    rows[3]["response"] = "   "
    # Scenarios shuffle rows: the message names the file and the row's prompt, not only its index.
    fails_with([*args, "--config", harmful_file_config(rows)], capsys, 1, "harmful.jsonl", "bad thing 3",
               "assistant turn is empty")


def test_prompts_longer_than_max_length_name_the_field(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    fails_with([*args, "--data.max_length=4"], capsys, 1, "max_length=4", "lost its response")


def test_tokenizer_without_chat_template_is_named(tiny_model_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    plain = shutil.copytree(tiny_model_dir, tmp_path / "no-template")
    for name in ("chat_template.jinja", "chat_template.json"):
        (plain / name).unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    fails_with(tiny_fit_args(plain, "bad-input"), capsys, 1, "no chat template", "no-template")
