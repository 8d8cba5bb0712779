"""Append-only, crash-safe cache of judge scores, keyed by content.

Judge scores are fixed properties of the data (DESIGN.md section 1), so each (judge, rubric,
prompt, response) is scored once, ever. One JSONL file per judge; every batch is flushed and
fsynced, so an interrupted precompute resumes where it stopped. A line cut short by a crash is
skipped with a warning; it never costs the other entries. One writer; any number of readers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from safelight.judges.base import RISK_SCORE_MAX, RISK_SCORE_MIN, Judge, JudgeItem, JudgeVerdict

logger = logging.getLogger(__name__)


def item_key(judge: Judge, item: JudgeItem) -> str:
    """sha256 over identity, rubric version, prompt and response (JSON-encoded: no ambiguity
    between e.g. prompt "ab" + response "c" and prompt "a" + response "bc")."""
    parts = [judge.identity, judge.rubric_version, item.prompt, item.response]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _FileIndex:
    entries: dict[str, JudgeVerdict] = field(default_factory=dict)
    offset: int = 0  # bytes consumed so far: complete lines only
    warned: set[int] = field(default_factory=set)  # offsets of bad lines already reported


def _parse_record(line: bytes) -> tuple[str, JudgeVerdict] | None:
    try:
        record = json.loads(line)
        key, score, raw = record["key"], float(record["score"]), str(record.get("raw", ""))
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(key, str) or not (RISK_SCORE_MIN <= score <= RISK_SCORE_MAX):
        return None
    return key, JudgeVerdict(score, raw)


class JudgeScoreCache:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._files: dict[Path, _FileIndex] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JudgeScoreCache({str(self.directory)!r})"

    # A cache may travel with a DataModule to other processes: send the directory, not the lock
    # or the in-memory index (the receiver reads the files itself).
    def __getstate__(self) -> dict[str, object]:
        return {"directory": self.directory}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["directory"])  # type: ignore[misc, arg-type]

    def path_for(self, judge: Judge) -> Path:
        digest = hashlib.sha256(f"{judge.identity}\n{judge.rubric_version}".encode()).hexdigest()[:16]
        return self.directory / f"scores-{digest}.jsonl"

    def lookup(self, judge: Judge, items: Sequence[JudgeItem]) -> list[JudgeVerdict | None]:
        """The cached verdict per item, None for a miss. Picks up lines appended since last time."""
        path = self.path_for(judge)
        with self._lock:
            index = self._refresh(path)
            return [index.entries.get(item_key(judge, item)) for item in items]

    def store(self, judge: Judge, items: Sequence[JudgeItem], verdicts: Sequence[JudgeVerdict]) -> int:
        """Append the successful verdicts (NaN ones are never cached) durably; returns how many."""
        if len(items) != len(verdicts):
            raise ValueError(f"{len(items)} items but {len(verdicts)} verdicts")
        lines = [
            json.dumps({"key": item_key(judge, item), "score": v.score, "raw": v.raw}, ensure_ascii=False) + "\n"
            for item, v in zip(items, verdicts)
            if v.ok and RISK_SCORE_MIN <= v.score <= RISK_SCORE_MAX
        ]
        if not lines:
            return 0
        path = self.path_for(judge)
        with self._lock:
            self._append(path, judge, "".join(lines).encode())
        return len(lines)

    def _append(self, path: Path, judge: Judge, data: bytes) -> None:
        created = not path.exists()
        if created:
            self.directory.mkdir(parents=True, exist_ok=True)
            # A readable label next to the hashed name; identity never holds secrets (base.py).
            meta = {"identity": judge.identity, "rubric_version": judge.rubric_version}
            path.with_suffix(".judge.json").write_text(json.dumps(meta, indent=1) + "\n")
        with open(path, "a+b") as f:
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    # A crash left half a line: end it, so our first record does not merge into it.
                    data = b"\n" + data
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if created:
            self._fsync_directory()

    def _fsync_directory(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:  # not possible on every platform; the file's own fsync still holds
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _refresh(self, path: Path) -> _FileIndex:
        index = self._files.setdefault(path, _FileIndex())
        try:
            with open(path, "rb") as f:
                f.seek(index.offset)
                data = f.read()
        except FileNotFoundError:
            return index
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            complete = end != -1
            line = data[start:end] if complete else data[start:]
            offset = index.offset + start
            if line.strip():
                parsed = _parse_record(line)
                if parsed is not None:
                    index.entries[parsed[0]] = parsed[1]
                elif offset not in index.warned:
                    index.warned.add(offset)
                    what = "corrupt line" if complete else "incomplete last line (a crash, or a write in progress)"
                    logger.warning("judge score cache %s: skipping %s at byte %d", path, what, offset)
            if not complete:
                break  # not consumed: a writer may still be finishing it
            start = end + 1
        index.offset += start
        return index
