"""KnowBERT's synset embeddings from WordNet glosses (issue 21): the definition's words,
their mean word vector at unit norm, ``lmlab knowledge gloss`` and ``entities: gloss``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lmlab.cli import main
from lmlab.config import load_config
from lmlab.errors import DataError
from lmlab.knowledge.embedding_files import load_embeddings
from lmlab.knowledge.gloss_embeddings import (definition_words, gloss_embeddings, gloss_vector,
                                              word_lookup)
from lmlab.knowledge.transe_cache import entity_embeddings
from lmlab.presets import preset_path
from lmlab.registry import build_model
from lmlab.wordvec.io import save_vectors

DOG = "02084071-n"  # dog.n.01
WORDS = ["the", "member", "genus", "Canis", "wolf", "Man", "dog", "man"]
VECTORS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0],
                    [9, 9, 9], [5, 5, 5]], dtype=np.float32)


def test_definition_words_stop_at_the_first_example():
    gloss = 'a member of the genus Canis (probably ...) by man; occurs; "the dog barked"'
    assert definition_words(gloss) == ["a", "member", "of", "the", "genus", "canis",
                                       "probably", "by", "man", "occurs"]


def test_a_gloss_vector_is_the_unit_mean_of_its_words():
    lookup = word_lookup(WORDS)
    assert lookup["man"] == 5 and lookup["canis"] == 3  # the first spelling wins
    # member + genus + canis + the + man(0) = (1, 1, 1) / 5, at unit norm
    vector = gloss_vector("a member of the genus Canis by man", lookup, VECTORS)
    assert vector == pytest.approx(np.full(3, 1 / np.sqrt(3)))
    assert gloss_vector("nothing here; \"dog\"", lookup, VECTORS) is None


def test_dog_n_01_is_the_computation_on_its_gloss(wordnet):
    embeddings, counts = gloss_embeddings(wordnet, WORDS, VECTORS)
    assert counts["synsets"] == 117659 == len(embeddings.entities)
    assert embeddings.entities == sorted(embeddings.entities)
    # "a member of the genus Canis (probably descended from the common wolf) that has been
    # domesticated by man since prehistoric times; occurs in many breeds; "the dog ...""
    # found: member (1,0,0), the (0,0,0) x2, genus (0,1,0), Canis (0,0,1), wolf (1,1,0),
    # Man (0,0,0): sum (2, 2, 1) over 7 words; "dog" is only in the example
    expected = np.array([2.0, 2.0, 1.0]) / 3.0
    assert embeddings.entity(DOG).numpy() == pytest.approx(expected)
    assert embeddings.relations == [] and tuple(embeddings.relation_vectors.shape) == (0, 3)
    assert 0 < counts["without_vector"] < counts["synsets"]


def test_gloss_command_and_entities_gloss(wordnet, tmp_path, capsys):
    save_vectors(tmp_path / "vectors.txt", WORDS, VECTORS, "text")
    assert main(["knowledge", "gloss", "--vectors", str(tmp_path / "no.txt")]) == 1
    assert "no.txt: no such vectors file" in capsys.readouterr().err
    entity_embeddings.cache_clear()
    with pytest.raises(DataError, match="entities: gloss: no gloss table in .*lmlab "
                                        "knowledge gloss --vectors") as error:
        entity_embeddings("gloss")
    assert "\n" not in str(error.value)
    assert main(["knowledge", "gloss", "--vectors", str(tmp_path / "vectors.txt"),
                 "--out", str(tmp_path / "gloss")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["synsets"] == 117659 and printed["dim"] == 3
    folder = load_embeddings(tmp_path / "gloss")
    assert folder.entity(DOG).numpy() == pytest.approx(np.array([2.0, 2.0, 1.0]) / 3.0)
    assert main(["knowledge", "gloss", "--vectors", str(tmp_path / "vectors.txt")]) == 0
    capsys.readouterr()
    entity_embeddings.cache_clear()
    config = load_config(preset_path("knowbert/tiny"), ["model.encoder.knowledge.entities=gloss"])
    model = build_model(config.model, 20)
    row = model.encoder.entity_names.index(DOG) + 1  # row 0 is "no entity"
    assert torch.allclose(model.encoder.entity_vectors[row],
                          torch.tensor([2.0, 2.0, 1.0]) / 3.0)
    entity_embeddings.cache_clear()
