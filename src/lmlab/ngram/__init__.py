"""Statistical n-gram language models: modified Kneser-Ney exactly as KenLM lmplz, Kneser-Ney,
Witten-Bell and add-k baselines, ARPA in and out, KenLM-compatible scoring."""

from lmlab.ngram.run_folder import (build_run, evaluate_run_perplexity, generate_from_run,
                                    is_ngram_run, load_run)

__all__ = ["build_run", "evaluate_run_perplexity", "generate_from_run", "is_ngram_run", "load_run"]
