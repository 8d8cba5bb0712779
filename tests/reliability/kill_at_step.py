"""Run `safelight <args>` and SIGKILL itself right after optimizer step N (a crash with no cleanup).

    python tests/reliability/kill_at_step.py N fit --config ...

The kill is injected here, outside the config, so the resumed command is exactly the same command.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def main() -> None:
    kill_at = int(sys.argv[1])
    from safelight.cli import main as safelight_main
    from safelight.module import SafeFineTuner

    def on_train_batch_end(self: SafeFineTuner, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.trainer.global_step >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    SafeFineTuner.on_train_batch_end = on_train_batch_end  # type: ignore[method-assign]
    safelight_main(sys.argv[2:])


if __name__ == "__main__":
    main()
