"""Every reader of user files, fed arbitrary bytes, returns a result or raises an lmlab
error (:mod:`lmlab.errors`), never another exception (issue 16, property tests).

Each reader gets raw bytes and bytes near its format (a valid file with random lines
changed), so the search reaches past the first check. 200 examples a reader keep the file
under half a minute on one core.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lmlab.config import RunConfig, apply_override, load_config, load_raw  # noqa: E402
from lmlab.data.corpus import iter_documents, iter_sentences  # noqa: E402
from lmlab.errors import LmlabError  # noqa: E402
from lmlab.ngram.arpa import read_arpa  # noqa: E402
from lmlab.ngram.source import iter_token_sentences  # noqa: E402
from lmlab.presets import preset_path  # noqa: E402
from lmlab.tasks.structured_readers import read_c3, read_conll, read_race, read_squad  # noqa: E402
from lmlab.tasks.tsv_readers import ColumnLayout, read_columns  # noqa: E402
from lmlab.wordvec.corpus import iter_token_lists  # noqa: E402
from lmlab.wordvec.io import load_vectors  # noqa: E402

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
FOLDER = Path(tempfile.mkdtemp(prefix="lmlab-property-"))  # one file per reader, rewritten


def _file(name: str, data: bytes) -> Path:
    path = FOLDER / name
    path.write_bytes(data)
    return path


def _lmlab_error_or_result(read, *args):
    """Call ``read``; an LmlabError is an answer, any other exception fails the test."""
    try:
        result = read(*args)
        return list(result) if hasattr(result, "__next__") else result
    except LmlabError as error:
        assert "\n" not in str(error).strip(), f"a multi-line error: {error}"
        return error


def _mutated(valid: bytes):
    """``valid`` with some lines replaced, deleted, duplicated or cut (and raw bytes)."""
    lines = valid.split(b"\n")
    edit = st.tuples(st.integers(0, len(lines) - 1),
                     st.sampled_from(["replace", "delete", "duplicate", "cut"]),
                     st.binary(max_size=30))

    def apply(edits):
        out = list(lines)
        for index, kind, junk in edits:
            index %= max(len(out), 1)
            if not out:
                break
            if kind == "replace":
                out[index] = junk
            elif kind == "delete":
                del out[index]
            elif kind == "duplicate":
                out.insert(index, out[index])
            else:
                out[index] = out[index][:len(junk)]
        return b"\n".join(out)

    return st.one_of(st.binary(max_size=300), st.lists(edit, min_size=1, max_size=4).map(apply))


# --- corpus text ------------------------------------------------------------------------

TEXT = "the cat sat\n\na dog ran fast\nend\n".encode()


@SETTINGS
@given(_mutated(TEXT), st.booleans())
def test_corpus_readers(data, gz):
    path = _file("corpus.txt.gz" if gz else "corpus.txt", gzip.compress(data) if gz and
                 data[:1] != b"\x00" else data)
    for read in (iter_sentences, iter_documents, iter_token_sentences):
        _lmlab_error_or_result(read, path)
    _lmlab_error_or_result(lambda p: list(iter_token_lists([p])), path)


@SETTINGS
@given(st.binary(max_size=200))
@example(b"\x00\x00\x00\x02\x01\x00\x00")  # zlib.error escaped before issue 16
def test_corpus_readers_on_damaged_gzip(data):
    path = _file("damaged.txt.gz", gzip.compress(TEXT)[:len(data) % 40] + data)
    for read in (iter_sentences, iter_token_sentences):
        _lmlab_error_or_result(read, path)


# --- task files ---------------------------------------------------------------------------

TSV = b"sentence\tlabel\nit is good\t1\nbad\t0\n"
LAYOUTS = [ColumnLayout("sentence", None, "label"), ColumnLayout(0, 1, 2, header=False),
           ColumnLayout("sentence", None, "label", regression=True),
           ColumnLayout(1, 2, 0, header=False, delimiter=",")]


@SETTINGS
@given(_mutated(TSV), st.sampled_from(LAYOUTS))
@example(b"\x80", LAYOUTS[0])  # UnicodeDecodeError escaped
@example(b"a,\"b\n", LAYOUTS[3])
def test_tsv_reader(data, layout):
    _lmlab_error_or_result(read_columns, _file("task.tsv", data), layout)


CONLL = b"EU B-ORG\nrejects O\n\nPeter B-PER\n"


@SETTINGS
@given(_mutated(CONLL))
@example(b"EU B-ORG\n\x80 O\n")  # UnicodeDecodeError escaped
def test_conll_reader(data):
    _lmlab_error_or_result(read_conll, _file("task.conll", data))


SQUAD = json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "a b c", "qas": [
    {"id": "1", "question": "b?", "answers": [{"text": "b", "answer_start": 2}]}]}]}]})
RACE = json.dumps({"article": "a b", "questions": ["q?"], "options": [["x", "y", "z", "w"]],
                   "answers": ["A"], "id": "r1"})
C3 = json.dumps([[["a b"], [{"question": "q?", "choice": ["x", "y"], "answer": "x"}], "c1"]])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["data", "paragraphs", "context", "qas", "id", "question", "answers",
                         "text", "answer_start", "article", "questions", "options", "choice",
                         "answer", "title", "is_impossible"]), children, max_size=4),
    max_leaves=12)


def _json_files(valid: str):
    return st.one_of(_mutated(valid.encode()), JSON_VALUES.map(lambda v: json.dumps(v).encode()))


@SETTINGS
@given(_json_files(SQUAD))
@example(b"\x80")
@example(b'{"data": 3}')  # TypeError escaped
@example(b'{"data": [{"paragraphs": [{"context": 1, "qas": [{}]}]}]}')
def test_squad_reader(data):
    _lmlab_error_or_result(read_squad, _file("squad.json", data))


@SETTINGS
@given(_json_files(RACE))
@example(b'{"data": null}')  # TypeError escaped
@example(b'{"a": 1}\n{')   # JSONDecodeError escaped (JSON lines)
@example(b'{"article": "a", "questions": ["q"], "options": [7], "answers": ["A"]}')
def test_race_reader(data):
    _lmlab_error_or_result(read_race, _file("race.json", data))


@SETTINGS
@given(_json_files(C3))
@example(b'[[null, []]]')  # TypeError escaped
@example(b'{}')
def test_c3_reader(data):
    _lmlab_error_or_result(read_c3, _file("c3.json", data))


# --- ARPA and word vectors ---------------------------------------------------------------

ARPA = b"""\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.5\t</s>\t0
-0.3\ta\t-0.2

\\2-grams:
-0.1\t<s> a
-0.2\ta </s>

\\end\\
"""


@SETTINGS
@given(_mutated(ARPA))
def test_arpa_reader(data):
    _lmlab_error_or_result(read_arpa, _file("model.arpa", data))


VECTORS_TEXT = b"2 3\na 0.1 0.2 0.3\nb 1 2 3\n"
VECTORS_BINARY = b"2 2\na " + bytes(8) + b"\nb " + bytes(range(8)) + b"\n"


@SETTINGS
@given(_mutated(VECTORS_TEXT))
def test_word2vec_text_reader(data):
    _lmlab_error_or_result(load_vectors, _file("vectors.txt", data), "text")


@SETTINGS
@given(_mutated(VECTORS_BINARY))
def test_word2vec_binary_reader(data):
    _lmlab_error_or_result(load_vectors, _file("vectors.bin", data), "binary")


# --- config YAML and --set -----------------------------------------------------------------

GPT_TINY = preset_path("gpt/tiny").read_bytes()


@SETTINGS
@given(_mutated(GPT_TINY))
@example(b"model: [\n")  # a multi-line YAML message
@example(b"\xff\xfe")  # UnicodeDecodeError escaped
def test_config_yaml(data):
    path = _file("config.yaml", data)
    _lmlab_error_or_result(load_raw, path)
    _lmlab_error_or_result(load_config, path)


KEYS = st.sampled_from(["train.lr", "train.max_steps", "model.num_layers", "data.seq_len",
                        "objectives.0.name", "objectives.9", "model", "train.lr.x", "", ".",
                        "model.embedding.max_positions", "objectives.0.weight"])


@SETTINGS
@given(st.one_of(st.text(max_size=40), st.tuples(KEYS, st.text(max_size=20)).map("=".join)))
@example("objectives.0.name=?")  # TypeError: unhashable type: 'dict' escaped
@example("train.lr={")  # YAMLError escaped
@example("train..lr=1")
def test_set_values(assignment):
    _lmlab_error_or_result(lambda: apply_override(load_raw(preset_path("gpt/tiny")), assignment))
    _lmlab_error_or_result(load_config, preset_path("gpt/tiny"), [assignment])
    assert RunConfig  # the schema the overrides are checked against
