"""safelight: keep language models safe while they are fine-tuned.

Implements the adaptive, risk-weighted KL regularisation of "Learning to Stay Safe"
(arXiv 2602.17546) as a PyTorch Lightning framework.
"""

__version__ = "0.1.0"
