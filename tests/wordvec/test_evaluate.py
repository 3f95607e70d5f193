"""Similarity and analogy evaluation: brute force and gensim as references."""

import itertools

import numpy as np
import pytest
from scipy import stats

from lmlab.wordvec.evaluate import analogies, neighbors, word_pairs

WORDS = ["king", "queen", "man", "woman", "Paris", "France", "Rome", "Italy", "paris",
         "apple", "banana", "car"]


def _vectors(seed=0):
    return np.random.default_rng(seed).normal(size=(len(WORDS), 6)).astype(np.float32)


@pytest.fixture
def analogy_file(tmp_path):
    quads = [q for q in itertools.permutations(WORDS[:8], 4)][:300]
    lines = [": first"] + [" ".join(q) for q in quads[:150]] + [": second"] + \
            [" ".join(q) for q in quads[150:]] + ["king queen man unknownword"]
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _brute_force(words, vectors, path, restrict):
    """One question at a time, straight from the 3CosAdd definition."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {}
    for i, w in enumerate(words[:restrict]):
        index.setdefault(w.upper(), i)
    correct = total = 0
    for line in open(path):
        if line.startswith(":"):
            continue
        quad = [w.upper() for w in line.split()]
        if any(w not in index for w in quad):
            continue
        a, b, c, d = (index[w] for w in quad)
        best, best_score = None, -np.inf
        for x in range(min(restrict, len(words))):
            if words[x].upper() in quad[:3]:
                continue
            score = unit[x] @ unit[b] + unit[x] @ unit[c] - unit[x] @ unit[a]
            if score > best_score:
                best, best_score = x, score
        correct += words[best].upper() == quad[3]
        total += 1
    return correct, total


@pytest.mark.parametrize("restrict", [12, 10])
def test_analogy_equals_brute_force(analogy_file, restrict):
    vectors = _vectors()
    result = analogies(WORDS, vectors, analogy_file, restrict_vocab=restrict)
    correct, total = _brute_force(WORDS, vectors, analogy_file, restrict)
    assert (result["correct"], result["total"]) == (correct, total)
    assert result["oov"] == 1 and sum(s["total"] for s in result["sections"]) == total
    assert [s["section"] for s in result["sections"]] == ["first", "second"]


def test_analogy_and_pairs_equal_gensim(analogy_file, tmp_path):
    keyed = pytest.importorskip("gensim.models.keyedvectors")
    vectors = _vectors(1)
    kv = keyed.KeyedVectors(6)
    kv.add_vectors(WORDS, vectors)
    score, sections = kv.evaluate_word_analogies(str(analogy_file), restrict_vocab=12)
    ours = analogies(WORDS, vectors, analogy_file, restrict_vocab=12)
    assert ours["accuracy"] == pytest.approx(score)
    assert [s["correct"] for s in ours["sections"]] == [len(s["correct"]) for s in sections[:-1]]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# comment\nking\tqueen\t8\nman\twoman\t7.5\napple\tcar\t1\n"
                     "PARIS\tfrance\t6\nbanana\tapple\t9\nfoo\tbar\t3\n")
    pearson, spearman, oov_ratio = kv.evaluate_word_pairs(str(pairs))
    result = word_pairs(WORDS, vectors, pairs)
    assert result["spearman"] == pytest.approx(spearman[0])
    assert result["pearson"] == pytest.approx(pearson[0], rel=1e-5)
    assert result["oov_ratio"] == pytest.approx(oov_ratio) and result["oov"] == 1


def test_word_pairs_is_scipy_spearman_of_cosines(tmp_path):
    vectors = _vectors(2)
    pairs = [("king", "queen", 9.0), ("man", "car", 1.0), ("apple", "banana", 8.0)]
    path = tmp_path / "p.tsv"
    path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = [unit[WORDS.index(a)] @ unit[WORDS.index(b)] for a, b, _ in pairs]
    expected = stats.spearmanr([s for *_, s in pairs], cos)[0]
    assert word_pairs(WORDS, vectors, path)["spearman"] == pytest.approx(expected)


def test_neighbors_excludes_query():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]] + [[0.1, 0.1]] * 8, dtype=np.float32)
    top = neighbors(WORDS, vectors, "king", topn=2)
    assert [w for w, _ in top] == ["queen", "Paris"]  # ties: the earlier (more frequent) row
    assert top[0][1] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
