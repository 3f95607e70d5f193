"""The transfer directions of ``suites/crosslingual`` beyond its first pair (issue 24, "The
comparison"), as a config list rather than a code path per pair:

* ``glue/rte -> clue/xnli_2way``: RTE (English) to XNLI-zh dev collapsed to two labels —
  entailment -> entailment, neutral and contradiction -> not_entailment
  (:data:`lmlab.tasks.catalogue.XNLI_TO_RTE`);
* ``qa/cmrc2018 -> qa/squad`` (zh -> en): span QA fine-tuned on CMRC 2018 (its ``trial``
  split: the train file is not in ``$LMLAB_DATA``), scored (F1) on an English SQuAD v1.1
  file given as the suite's ``squad_file`` (``target_split: squad_file``). English QA is
  held back from the data directory: with no file configured the cell says so.

Each pair runs :func:`lmlab.recipes.zero_shot.zero_shot` (source fine-tuning, selection on
the source dev split, the target scored unchanged); the target-supervised ceiling only where
the target's train split exists; with ``translate`` the lexicon translate-train and, for the
suite's ``multi_language`` rows, Unicoder's multi-language fine-tuning
(:mod:`lmlab.recipes.translate_train`: a word-by-word lexicon translation, not MT).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lmlab.atomic import write_json
from lmlab.errors import ConfigError, DataError
from lmlab.finetune.config import FinetuneOptions
from lmlab.recipes.translate_train import translate_task
from lmlab.recipes.zero_shot import check_pair, zero_shot
from lmlab.tasks.catalogue import get_task
from lmlab.training.checkpoint import CHECKPOINT

SQUAD_FILE = "squad_file"
"""``target_split`` value that stands for the suite's ``squad_file``."""
NO_QA_FILE = "no English QA file"

SETTINGS = [("zero_shot", "zero-shot"), ("translate_train", "translate-train (lexicon)"),
            ("multi_language", "multi-language FT (Unicoder §3.5, lexicon)"),
            ("supervised", "supervised (target train)")]
"""Row settings of the transfer table: the result key and its row name."""


@dataclass
class TransferPair:
    source: str = ""
    """The task fine-tuned on (``glue/rte``)."""
    target: str = ""
    """The task scored zero-shot (``clue/xnli_2way``), same kind and labels."""
    target_split: str = "dev"
    """A split name, a file in the target's format, or ``squad_file`` (the suite's)."""
    label: str = ""
    """Column name (default ``SOURCE -> TARGET``)."""
    source_finetune: dict = field(default_factory=dict)
    """Fine-tuning options of the source runs only, e.g. ``{train_split: trial}``."""
    translate: bool = False
    """Add translate-train (and the suite's multi-language rows) with the lexicon."""

    def validate(self, path: str) -> None:
        try:
            check_pair(self.source, self.target)
        except (ConfigError, DataError) as error:
            raise ConfigError(f"{path}: {error}") from None
        known = {f.name for f in dataclasses.fields(FinetuneOptions)}
        for key in self.source_finetune:
            if key not in known:
                raise ConfigError(f"{path}.source_finetune.{key}: not a fine-tuning option")
        self.label = self.label or f"{self.source} -> {self.target}"


def pair_settings(pair: TransferPair, squad_file: str) -> str | None:
    """The target split of ``pair``, or None where it is the (absent) English QA file."""
    if pair.target_split != SQUAD_FILE:
        return pair.target_split
    return squad_file or None


def run_pair(pair: TransferPair, base: str, options: FinetuneOptions, out: Path,
             squad_file: str, multi_language: bool, translations: Path) -> dict:
    """One pair's scores for one pre-trained ``base`` (a :func:`zero_shot` dict), or
    ``{"missing": reason}``."""
    split = pair_settings(pair, squad_file)
    if split is None:
        return {"missing": NO_QA_FILE}
    translated = None
    if pair.translate:
        files = translate_task(pair.source, translations / pair.source.replace("/", "_"))
        translated = (files["train"], files["dev"])
    return zero_shot(base, pair.source, pair.target, options, out, split,
                     supervised=get_task(pair.target).available("train"), overwrite=True,
                     command="lmlab compare suites/crosslingual",
                     source_options=pair.source_finetune, translated=translated,
                     translate_train=pair.translate,
                     multi_language=pair.translate and multi_language)


def _cell(result: dict | None, key: str) -> str:
    if result is None:
        return "–"
    if "missing" in result:
        return result["missing"] if key == "zero_shot" else "–"
    if key not in result:
        return "–"
    value = result[key]
    text = f"{value['mean']:.1f} ± {value['std']:.1f}"
    if key == "zero_shot":
        text += f" ({result['source_dev']['mean']:.1f})"
    return text


def transfer_table(columns: list[str], rows: list[dict]) -> str:
    """Method × setting rows, one column per transfer pair: the target score (mean ± std
    over seeds; zero-shot cells add the source dev score in brackets). ``rows[i]
    ["transfers"]`` maps a column to its result."""
    lines = ["| method | setting | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for row in rows:
        found = row.get("transfers", {})
        for key, name in SETTINGS:
            cells = [_cell(found.get(column), key) for column in columns]
            if key != "zero_shot" and all(cell == "–" for cell in cells):
                continue
            lines.append(f"| {row['label']} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def first_pair_translation(source: str, translate_train: bool, multi_language: bool,
                           translations: Path) -> dict:
    """The keywords of :func:`zero_shot` that add translate-train / multi-language rows to
    the suite's first pair ({} when neither is asked for)."""
    if not (translate_train or multi_language):
        return {}
    files = translate_task(source, translations / source.replace("/", "_"))
    return {"translated": (files["train"], files["dev"]), "translate_train": translate_train,
            "multi_language": multi_language}


def extra_transfers(pairs: list[TransferPair], base: str, options: FinetuneOptions,
                    out_dir: Path, slug: str, squad_file: str, multi_language: bool,
                    log=print) -> dict:
    """``{pair label: result}`` for one pre-trained ``base``; results are cached under
    ``out_dir/results`` (a missing QA file is not, so configuring one later runs it) and
    the fine-tuned checkpoints removed once scored."""
    found = {}
    for pair in pairs:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", pair.label).strip("_")  # RTE_-_XNLI-2way
        cache = out_dir / "results" / f"{slug}.{name}.json"
        if pair_settings(pair, squad_file) is None:
            found[pair.label] = {"missing": NO_QA_FILE}
        elif cache.exists():
            found[pair.label] = json.loads(cache.read_text())
        else:
            log(f"transfer {slug}: {pair.label}")
            folder = out_dir / "transfer" / slug / name
            found[pair.label] = run_pair(pair, base, options, folder, squad_file,
                                         multi_language, out_dir / "translations")
            write_json(cache, found[pair.label])
            for checkpoint in list(folder.rglob(CHECKPOINT)):
                shutil.rmtree(checkpoint, ignore_errors=True)
    return found


def transfer_section(first: str, pairs: list[TransferPair], rows: list[dict],
                     translations: Path) -> str:
    """The transfer table with its caption: the pairs, the XNLI mapping, the lexicon's
    coverage of the translated training sets."""
    columns = [first] + [pair.label for pair in pairs]
    notes = []
    for coverage_file in sorted(translations.glob("*/coverage.json")):
        c = json.loads(coverage_file.read_text())
        notes.append(f"{c['source']}: {c['token_coverage']:.1f} % of {c['tokens']:,} word "
                     f"tokens ({c['type_coverage']:.1f} % of {c['types']:,} types) in the "
                     f"lexicon of {c['entries']:,} entries")
    caption = ("Transfer by setting: target score, mean ± std over seeds (zero-shot cells: "
               "source dev in brackets; span QA: F1). XNLI-2way: entailment -> entailment, "
               "neutral / contradiction -> not_entailment. translate-train and multi-language "
               "use a word-by-word lexicon translation from the hsk-sentences-audio glosses, "
               "not MT" + (f" ({'; '.join(notes)})" if notes else "") + ".")
    return caption + "\n\n" + transfer_table(columns, [r for r in rows if "transfers" in r])
