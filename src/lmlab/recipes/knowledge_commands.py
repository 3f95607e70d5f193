"""``lmlab knowledge transe`` and ``lmlab knowledge probe``: thin: parse and call
:func:`lmlab.knowledge.transe_run.run_transe` / :func:`lmlab.evaluation.lexical_probe.probe_run`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from lmlab.atomic import write_json
from lmlab.evaluation.lexical_probe import probe_run
from lmlab.evaluation.supersense_accuracy import supersense_accuracy_of_run
from lmlab.evaluation.supersense_probe import supersense_probe_of_run
from lmlab.knowledge.embedding_files import save_embeddings
from lmlab.knowledge.gloss_embeddings import gloss_cache_folder, gloss_embeddings
from lmlab.knowledge.lexical_pairs import cached_wordnet
from lmlab.knowledge.transe_run import TransESettings, run_transe
from lmlab.knowledge.triples import DEFAULT_RELATIONS, RELATION_NAMES, check_relations
from lmlab.outputs import prepare_output_folder
from lmlab.recipes.arguments import non_negative_int, positive_int
from lmlab.training.checkpoint import checkpoint_folder, load_checkpoint_config
from lmlab.wordvec.io import load_vectors

DEFAULTS = TransESettings()
EXAMPLES = f"""examples:
  lmlab knowledge transe --out runs/transe-wn
  lmlab knowledge transe --out runs/transe-l2 --dim 20 --epochs 5 --norm 2 --margin 1
  lmlab knowledge transe --wordnet /path/to/wordnet-3.0 --relations hypernym,antonym --out runs/t
  lmlab knowledge transe --triples kb.tsv --out runs/transe-kb   # head<TAB>relation<TAB>tail

WordNet 3.0 is read from --wordnet, else $LMLAB_WORDNET, else /usr/share/wordnet (Debian's
wordnet-base). Relations (default {','.join(DEFAULT_RELATIONS)}; with --triples, all):
  {', '.join(RELATION_NAMES)}
A seeded {DEFAULTS.held_out:g} of the triples is held out; the filtered MRR / Hits@10 of
link prediction on them goes to OUT/transe.json. docs/knowledge.md
"""


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1); got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0; got {text}")
    return value


def _transe(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    relations = (tuple(r.strip() for r in args.relations.split(",") if r.strip())
                 if args.relations else (RELATION_NAMES if args.triples else DEFAULT_RELATIONS))
    check_relations(relations)  # before --out is created
    settings = TransESettings(dim=args.dim, epochs=args.epochs, margin=args.margin,
                              norm=args.norm, optimizer=args.optimizer,
                              learning_rate=args.lr,
                              batch_size=args.batch_size, held_out=args.held_out,
                              eval_triples=args.eval_triples, seed=args.seed,
                              relations=relations)
    prepare_output_folder(args.out, "transe", args.overwrite)
    result = run_transe(args.out, settings, args.wordnet, args.triples,
                        log=lambda message: print(message, file=sys.stderr, flush=True))
    print(json.dumps({"out": args.out, "entities": result["entities"],
                      "triples": result["triples"], **result["link_prediction"]}))
    return 0


PROBE_EXAMPLES = """examples:
  lmlab knowledge probe runs/libert-tiny
  lmlab knowledge probe runs/bert-tiny --wordnet /path/to/wordnet-3.0 --seed 1 --out probe.json

Hypernymy detection from the run's input embeddings: WordNet (direct) hyponym-hypernym
word pairs vs reversed and random pairs, split by synset so that no test pair's words
occur in a training pair; a logistic regression on [a, b, a*b, a-b]. docs/knowledge.md
"""


def _probe(args) -> int:
    result = probe_run(args.run_folder, args.wordnet, args.test_fraction, args.seed)
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)
    return 0


def _supersense(args) -> int:
    names = [o.name for o in load_checkpoint_config(checkpoint_folder(args.run_folder)).objectives]
    if not args.probe and {"mlm", "supersense"} <= set(names):
        result = {"method": "head",
                  **supersense_accuracy_of_run(args.run_folder, args.split, args.max_tokens)}
    else:
        if not args.probe:
            print(f"lmlab: {args.run_folder} has no supersense head (objectives "
                  f"{', '.join(names)}); using the linear probe (--probe)", file=sys.stderr)
        result = supersense_probe_of_run(args.run_folder, args.seed, args.max_tokens,
                                         args.probe_test_fraction, args.wordnet,
                                         groups=0 if args.unmasked else 7)
    print(json.dumps(result))
    return 0


def _gloss(args) -> int:
    words, vectors = load_vectors(args.vectors)  # before anything is written
    wordnet = cached_wordnet(str(args.wordnet or ""))
    embeddings, counts = gloss_embeddings(wordnet, words, vectors)
    out = Path(args.out) if args.out else gloss_cache_folder()
    if args.out:
        prepare_output_folder(out, "gloss", args.overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=out.parent, prefix=".gloss-"))
    try:  # written beside, then swapped in: a killed build leaves the old table
        save_embeddings(temporary, embeddings)
        info = {"vectors": str(Path(args.vectors).resolve()), **counts}
        write_json(temporary / "gloss.json", info)
        if out.exists():
            shutil.rmtree(out)
        os.replace(temporary, out)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    print(json.dumps({"out": str(out), **info}))
    return 0


def add_commands(subparsers) -> None:
    knowledge = subparsers.add_parser(
        "knowledge", help="knowledge bases: WordNet graph embeddings (issue 21)")
    verbs = knowledge.add_subparsers(dest="knowledge_command", metavar="VERB")
    transe = verbs.add_parser(
        "transe", help="TransE entity/relation embeddings of WordNet's graph, with held-out "
                       "link prediction (Bordes et al. 2013)",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    transe.add_argument("--out", required=True, help="folder to write")
    transe.add_argument("--wordnet", metavar="DIR", help="WordNet 3.0 folder (data.*, index.*)")
    transe.add_argument("--triples", metavar="FILE",
                        help="read head<TAB>relation<TAB>tail triples instead of WordNet")
    transe.add_argument("--relations", metavar="A,B", help="comma-separated relation names")
    transe.add_argument("--dim", type=positive_int, default=DEFAULTS.dim)
    transe.add_argument("--epochs", type=positive_int, default=DEFAULTS.epochs)
    transe.add_argument("--margin", type=_positive_float, default=DEFAULTS.margin, help="γ")
    transe.add_argument("--norm", type=int, choices=[1, 2], default=DEFAULTS.norm,
                        help="dissimilarity ||h + l - t||_p (default 1)")
    transe.add_argument("--optimizer", choices=["adagrad", "sgd"], default=DEFAULTS.optimizer,
                        help="sgd is the paper's (with --lr 0.01); adagrad (default) moves "
                             "WordNet's rare entities within a few minutes")
    transe.add_argument("--lr", type=_positive_float, default=DEFAULTS.learning_rate,
                        help=f"learning rate (default {DEFAULTS.learning_rate:g})")
    transe.add_argument("--batch-size", type=positive_int, default=DEFAULTS.batch_size)
    transe.add_argument("--held-out", type=_fraction, default=DEFAULTS.held_out)
    transe.add_argument("--eval-triples", type=non_negative_int, default=DEFAULTS.eval_triples,
                        help="held-out triples ranked, a seeded sample (0 = all)")
    transe.add_argument("--seed", type=int, default=DEFAULTS.seed)
    transe.add_argument("--threads", type=non_negative_int, default=0,
                        help="torch CPU threads (default: PyTorch's)")
    transe.add_argument("--overwrite", action="store_true",
                        help="replace the lmlab output already in --out")
    transe.set_defaults(run=_transe)
    probe = verbs.add_parser(
        "probe", help="lexical probe: WordNet hypernymy detection from a run's input "
                      "embeddings, split by synset (issue 21)",
        epilog=PROBE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    probe.add_argument("run_folder", metavar="RUN", help="a pre-trained run folder")
    probe.add_argument("--wordnet", metavar="DIR", help="WordNet 3.0 folder (data.*, index.*)")
    probe.add_argument("--test-fraction", type=_fraction, default=0.05,
                       help="share of hyponym synsets whose pairs are tested (default "
                            "0.05; each test word removes its training pairs)")
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--out", metavar="FILE", help="also write the JSON result here")
    probe.set_defaults(run=_probe)
    gloss = verbs.add_parser(
        "gloss", help="KnowBERT's synset embeddings from WordNet glosses: the mean word2vec "
                      "vector of each definition, unit norm (issue 21)",
        epilog="examples:\n  lmlab embed train --data wikitext-2 --out runs/sg-wt2\n"
               "  lmlab knowledge gloss --vectors runs/sg-wt2   # then entities: gloss\n"
               "  lmlab knowledge gloss --vectors runs/sg-wt2 --out runs/gloss  # entities: "
               "runs/gloss\ndocs/knowledge.md",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    gloss.add_argument("--vectors", required=True, metavar="PATH",
                       help="word vectors: an 'lmlab embed train' run or a word2vec file")
    gloss.add_argument("--out", help="folder to write (default: the cache folder that "
                                     "'entities: gloss' reads)")
    gloss.add_argument("--wordnet", metavar="DIR", help="WordNet 3.0 folder (data.*, index.*)")
    gloss.add_argument("--overwrite", action="store_true",
                       help="replace the lmlab output already in --out")
    gloss.set_defaults(run=_gloss)
    sense = verbs.add_parser(
        "supersense", help="SenseBERT's supersense accuracy of a run's masked held-out "
                           "words (its head), or of a linear probe on any run's states, "
                           "beside the context-free prior (issue 21)")
    sense.add_argument("run_folder", metavar="RUN", help="a pre-trained run folder")
    sense.add_argument("--split", default="valid", help="held-out split (default valid)")
    sense.add_argument("--max-tokens", type=non_negative_int, default=20000,
                       help="read at most this many tokens (the head: of --split; the "
                            "probe: of the training text) (0 = all)")
    sense.add_argument("--probe", action="store_true",
                       help="a linear probe on the frozen encoder's states, trained on the "
                            "run's training lines with the allowed sets (the default for a "
                            "run without a supersense head)")
    sense.add_argument("--seed", type=int, default=0, help="the probe's line split and masks")
    sense.add_argument("--unmasked", action="store_true",
                       help="the probe reads each word itself, not at a [MASK] (SenseBERT's "
                            "input then shows its supersenses)")
    sense.add_argument("--probe-test-fraction", type=_fraction, default=0.2,
                       help="share of the probe's lines held out for scoring (default 0.2)")
    sense.add_argument("--wordnet", metavar="DIR", help="WordNet 3.0 folder (data.*, index.*)")
    sense.set_defaults(run=_supersense)
