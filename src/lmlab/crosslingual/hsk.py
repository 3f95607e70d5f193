"""The ``hsk-sentences-audio`` 1.0.0 pairs (PyPI, CC-BY-SA-4.0): 4,354 graded Chinese
sentences (HSK 3.0 levels 1-9), each with an English translation and per-word English
glosses, used as extra parallel data for Unicoder (Huang et al. 2019, §3) beside the
news-commentary pairs. Pairs come English first, as the news-commentary sample does.

The package is read through its own loader (``load_sentences``: the packaged
``data/sentences.json``); nothing is read at import time.
"""

from __future__ import annotations

import hsk_sentences_audio

from lmlab.crosslingual.parallel import Pair
from lmlab.errors import DataError

HSK_PAIRS = "hsk-sentences-audio"
"""The name that stands for these pairs wherever a parallel file is named."""


def hsk_pairs() -> list[Pair]:
    """(English translation, Chinese sentence) of every record, in the package's order;
    ``line_number`` is the record's 1-based index. A record without either side is an
    error naming its id."""
    pairs = []
    for number, record in enumerate(hsk_sentences_audio.load_sentences(), 1):
        english = (record.get("translation") or {}).get("en", "").strip()
        chinese = (record.get("chinese") or "").strip()
        if not english or not chinese:
            raise DataError(f"{HSK_PAIRS}: record {record.get('id', number)} lacks its "
                            f"Chinese sentence or English translation")
        pairs.append(Pair(english, chinese, number))
    return pairs


def hsk_glosses(all_senses: bool = False) -> list[list[tuple[str, str]]]:
    """Per record, its (Chinese word, first English gloss) pairs: the package's word
    alignments (``tokens[].gloss_en`` up to the first ';'; with ``all_senses`` the whole
    gloss, its senses separated by ';')."""
    return [[(token["word"], token["gloss_en"].strip() if all_senses
              else token["gloss_en"].split(";")[0].strip())
             for token in record.get("tokens", []) if token.get("gloss_en")]
            for record in hsk_sentences_audio.load_sentences()]
