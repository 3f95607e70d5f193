"""WordNet 3.0's 45 lexicographer files ("lexnames", the supersenses of SenseBERT).

The table is fixed and published with WordNet (``lexnames(5WN)``: ``dict/lexnames``, one
``number<TAB>name<TAB>syntactic category`` a line). Debian's ``wordnet-base`` leaves the
file out, so lmlab carries it: the two-digit ``lex_filenum`` of a synset's line in a
``data.*`` file indexes this tuple. SenseBERT (Levine et al. 2020, §3.1) predicts these
45 classes for masked words.
"""

from __future__ import annotations

LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
    "noun.artifact", "noun.attribute", "noun.body", "noun.cognition", "noun.communication",
    "noun.event", "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive",
    "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
    "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact",
    "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
    "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
"""Index = ``lex_filenum`` (00..44)."""

LEXNAME_INDEX: dict[str, int] = {name: index for index, name in enumerate(LEXNAMES)}
