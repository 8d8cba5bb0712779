"""configs/trainer/{ddp,fsdp,fsdp2}.yaml resolve to the intended strategies (fsdp without a GPU:
parsed and its strategy built, since Lightning refuses to build a GPU Trainer on a CPU machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from safelight.cli import SafelightCLI
from safelight.distributed import decoder_layer_wrap_policy, decoder_layers

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


class ParseOnly(SafelightCLI):
    def instantiate_classes(self) -> None:  # parse and validate, build nothing
        pass


def test_fsdp_config_builds_lightning_fsdp_with_the_decoder_layer_policy(tmp_path: Path, monkeypatch) -> None:
    from lightning.pytorch.strategies import FSDPStrategy

    monkeypatch.chdir(tmp_path)
    cli = ParseOnly(args=["--config", str(CONFIGS / "quickstart.yaml"), "--trainer", str(CONFIGS / "trainer/fsdp.yaml")],
                    run=False)
    trainer = cli.config["trainer"]
    assert trainer["accelerator"] == "gpu" and trainer["inference_mode"] is False
    strategy = cli.parser.instantiate_classes(cli.config)["trainer"]["strategy"]
    assert isinstance(strategy, FSDPStrategy)
    assert strategy.kwargs["auto_wrap_policy"] is decoder_layer_wrap_policy


@pytest.mark.parametrize("name, strategy", [("ddp", "DDPStrategy"), ("fsdp2", "ModelParallelStrategy")])
def test_cpu_strategy_configs_build(name: str, strategy: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli = SafelightCLI(args=["--config", str(CONFIGS / "quickstart.yaml"), "--trainer", str(CONFIGS / f"trainer/{name}.yaml")],
                       run=False)
    assert type(cli.trainer.strategy).__name__ == strategy
    assert cli.model.reference_sharding == "shard"


def test_decoder_layer_policy_wraps_exactly_the_decoder_layers(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    layers = decoder_layers(model)
    assert len(layers) == model.config.num_hidden_layers
    wrapped = [m for m in model.modules() if decoder_layer_wrap_policy(m, recurse=False, nonwrapped_numel=0)]
    assert wrapped == layers
    assert decoder_layer_wrap_policy(nn.Linear(2, 2), recurse=True, nonwrapped_numel=0)
