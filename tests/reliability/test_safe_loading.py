"""Safe loading: checkpoints only through torch.load(weights_only=True) (a pickled payload is refused
and never runs), probes through safetensors, trust_remote_code off by default, and every documented
MLflow UI / server command binds 127.0.0.1."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from safelight.cli import main

from .helpers import REPO, tiny_fit_args

SOURCE = REPO / "safelight"


class Payload:
    """Unpickling this would create the marker file: proof that pickled code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_checkpoint_with_a_pickled_payload_is_refused(tiny_model_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    torch.save({"state_dict": {}, "payload": Payload(marker)}, tmp_path / "evil.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        main([*tiny_fit_args(tiny_model_dir, "safe-loading"), "--ckpt_path", str(tmp_path / "evil.ckpt")])
    assert exit_info.value.code == 1 and not marker.exists()
    err = capsys.readouterr().err
    assert "weights_only" in err and "Traceback" not in err


def test_every_torch_load_in_the_package_is_weights_only() -> None:
    offenders = []
    for path in SOURCE.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\btorch\.load\(", line) and "weights_only=True" not in line:
                offenders.append(f"{path.relative_to(REPO)}:{number}")
            if re.search(r"\bpickle\.loads?\(", line):
                offenders.append(f"{path.relative_to(REPO)}:{number} (pickle)")
    assert offenders == []


def test_probes_are_saved_and_loaded_as_safetensors() -> None:
    source = (SOURCE / "probes" / "artifact.py").read_text()
    assert "from safetensors.torch import" in source and "torch.load" not in source and "pickle" not in source


def test_trust_remote_code_is_off_by_default() -> None:
    from safelight.judges.hf_lm_judge import HFCausalLMJudge
    from safelight.models.sources import PretrainedPolicy

    for cls in (PretrainedPolicy, HFCausalLMJudge):
        assert inspect.signature(cls.__init__).parameters["trust_remote_code"].default is False, cls
    assert PretrainedPolicy("some/model").trust_remote_code is False


def test_documented_mlflow_ui_commands_bind_loopback() -> None:
    docs = [REPO / "README.md", *REPO.glob("docs/**/*.md"), *REPO.glob("configs/**/*.md"), *REPO.glob("*.md")]
    commands = []
    for doc in set(docs):
        for line in doc.read_text().splitlines():
            if re.search(r"\bmlflow (ui|server)\b", line):
                commands.append((doc.name, line.strip()))
    assert commands, "the README documents how to browse runs"
    for doc, command in commands:
        assert "--host 127.0.0.1" in command and "0.0.0.0" not in command, (doc, command)
