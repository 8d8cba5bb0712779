"""`safelight probe --config configs/probe/toy.yaml`: train, evaluate and save a harmful-intent probe.

Every argument of `safelight.probes.pipeline.train_probe` is a typed option (`--help` lists them);
configs compose with repeated `--config`, and options override them (`--layers [2,3]`).
"""

from __future__ import annotations

import os

from jsonargparse import ActionConfigFile, ArgumentParser

from safelight.probes.pipeline import train_probe


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="safelight probe", parser_mode="omegaconf",
                            description="Train and evaluate a harmful-intent activation probe.")
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_function_arguments(train_probe, as_group=False)
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    config = parser.parse_args(argv)
    init = parser.instantiate_classes(config)
    kwargs = {k: v for k, v in vars(init).items() if k != "config" and not k.startswith("__")}
    train_probe(**kwargs)


if __name__ == "__main__":
    main()
