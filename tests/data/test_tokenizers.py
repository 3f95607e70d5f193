import pytest

from lmlab.data.lm_data import prepare_tokenizer, token_store
from lmlab.data.tokenizers import TextTokenizer, TokenizerConfig, train_tokenizer
from lmlab.config import DataConfig

PTB_LINE = "the company said it expects <unk> N shares to be sold"


def _lines(shared_data, n=3000):
    return (shared_data / "ptb" / "ptb.train.txt").read_text().splitlines()[:n]


def test_word_tokenizer_keeps_ptb_unk_and_round_trips(shared_data, tmp_path):
    tokenizer = train_tokenizer(_lines(shared_data), TokenizerConfig(), "word", "<unk>")
    ids = tokenizer.encode(PTB_LINE)
    assert tokenizer.decode(ids) == PTB_LINE
    assert tokenizer.encode("zzzunseenword") == [tokenizer.unk_id]
    assert tokenizer.id_to_token(tokenizer.unk_id) == "<unk>"
    assert tokenizer.encode("a [MASK] b")[1] == tokenizer.mask_id
    tokenizer.save(tmp_path / "tok")
    assert TextTokenizer.load(tmp_path / "tok").encode(PTB_LINE) == ids


def test_full_ptb_vocabulary_is_mikolovs_10k(shared_data):
    tokenizer = prepare_tokenizer(DataConfig(dataset="ptb"))
    # 9,999 words + <unk> in the text, plus <pad> <eos> [CLS] [SEP] [MASK].
    assert tokenizer.vocab_size == 10000 + 4
    assert tokenizer.num_special == 6


def test_char_tokenizer_round_trips_spaces():
    tokenizer = train_tokenizer(["First Citizen:", "Before we proceed"], TokenizerConfig(),
                                "char", None)
    text = "Before Citizen"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode(text)) == len(text)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram"])
def test_subword_tokenizers_round_trip(shared_data, kind):
    tokenizer = train_tokenizer(_lines(shared_data), TokenizerConfig(kind=kind, vocab_size=600),
                                kind, "<unk>")
    assert tokenizer.vocab_size <= 600
    text = "the company said it expects shares to be sold"
    assert tokenizer.decode(tokenizer.encode(text)).strip() == text
    assert tokenizer.mask_id == 5 and tokenizer.num_special == 6


def test_token_store_appends_eos_and_records_documents(tmp_path):
    (tmp_path / "train.txt").write_text("a b c\nb c\n\nc a\n")
    config = DataConfig(dataset=str(tmp_path))
    tokenizer = prepare_tokenizer(config)
    store = token_store(config, tokenizer, "train")
    e = tokenizer.eos_id
    a, b, c = (tokenizer.token_to_id(w) for w in "abc")
    assert list(store.ids) == [a, b, c, e, b, c, e, c, a, e]
    assert list(store.line_ends) == [4, 7, 10]
    assert list(store.doc_ends) == [7, 10]
    # A second call reuses the stored files.
    assert token_store(config, tokenizer, "train").folder == store.folder


def test_token_store_chunking_does_not_change_the_store(tmp_path, monkeypatch):
    import lmlab.data.token_store as token_store_module

    text = "a b\n\n\nb\nc a\n\nc\nb b\n"
    (tmp_path / "train.txt").write_text(text)
    config = DataConfig(dataset=str(tmp_path))
    tokenizer = prepare_tokenizer(config)
    whole = token_store(config, tokenizer, "train")
    expected = (list(whole.ids), list(whole.line_ends), list(whole.doc_ends))
    for chunk in (1, 2, 3):
        monkeypatch.setattr(token_store_module, "CHUNK_LINES", chunk)
        rebuilt = token_store_module.TokenStore.build(
            __import__("lmlab.data.corpus", fromlist=["iter_lines"]).iter_lines(tmp_path / "train.txt"),
            tokenizer, tmp_path / f"store{chunk}", "t")
        assert (list(rebuilt.ids), list(rebuilt.line_ends), list(rebuilt.doc_ends)) == expected
    assert expected[2] == [3, 8, 13]


def test_token_store_build_memory_does_not_grow_with_corpus_size(tmp_path):
    import tracemalloc

    from lmlab.data.corpus import iter_lines
    from lmlab.data.token_store import TokenStore

    words = [f"w{i}" for i in range(50)]
    config = DataConfig(dataset=str(tmp_path))
    (tmp_path / "train.txt").write_text(" ".join(words) + "\n")
    tokenizer = prepare_tokenizer(config)
    peaks = {}
    for lines in (20_000, 100_000):
        path = tmp_path / f"c{lines}.txt"
        path.write_text("".join(" ".join(words[(i % 7):]) + "\n" for i in range(lines)))
        tracemalloc.start()
        store = TokenStore.build(iter_lines(path), tokenizer, tmp_path / f"s{lines}", "t")
        peaks[lines] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert store.meta["num_lines"] == lines
    # 5x the corpus (about 4.6M vs 0.9M tokens) must not need 5x the memory.
    assert peaks[100_000] < 1.5 * peaks[20_000], peaks


@pytest.mark.parametrize("kind", ["word", "char", "bpe", "wordpiece"])
def test_a_long_line_tokenized_in_pieces_gives_the_same_store(shared_data, tmp_path, kind,
                                                              monkeypatch):
    """Pieces cut before whitespace change nothing; a run without whitespace longer than a
    piece (unspaced Chinese) is cut where it ends: byte-level BPE and characters see no
    difference, a word or WordPiece tokenizer may (one [UNK] per piece)."""
    import lmlab.data.token_store as token_store_module
    from lmlab.data.corpus import iter_lines

    lines = _lines(shared_data, 400)
    tokenizer = train_tokenizer(lines, TokenizerConfig(kind=kind, vocab_size=600), kind, "<unk>")
    path = tmp_path / "corpus.txt"
    unspaced = "一二三四五六七八九十" * 30 + "\n" if kind in ("char", "bpe") else ""
    path.write_text(" ".join(lines[:200]) + "\n\n" + "\n".join(lines[200:260]) + "\n"
                    + unspaced)
    whole = token_store_module.TokenStore.build(iter_lines(path), tokenizer, tmp_path / "w", "t")
    for piece, chunk in ((37, 10**9), (300, 1000)):
        monkeypatch.setattr(token_store_module, "PIECE_CHARS", piece)
        monkeypatch.setattr(token_store_module, "CHUNK_CHARS", chunk)
        cut = token_store_module.TokenStore.build(iter_lines(path), tokenizer,
                                                  tmp_path / f"p{piece}", "t")
        assert list(cut.ids) == list(whole.ids), piece
        assert list(cut.line_ends) == list(whole.line_ends)
        assert list(cut.doc_ends) == list(whole.doc_ends)


def test_a_corpus_of_one_huge_line_builds_in_bounded_memory(tmp_path):
    """A single-line corpus is tokenized in pieces: 5x the line does not take 5x the memory
    (whole, a 10 MB line costs about 1 GB in the tokenizer; peak RSS in a child process)."""
    import subprocess
    import sys

    words = " ".join(f"w{i % 50}" for i in range(400))  # 400 words, ~1.5 kB
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from lmlab.data.corpus import iter_lines\n"
        "from lmlab.data.token_store import TokenStore\n"
        "from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer\n"
        f"tok = train_tokenizer([{words!r}], TokenizerConfig(), 'word', '<unk>')\n"
        "path = Path(sys.argv[1])\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "TokenStore.build(iter_lines(path), tok, path.parent / (path.name + '.store'), 't')\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    growth = {}
    for copies in (1_300, 6_500):  # about 2 MB and 10 MB on one line
        path = tmp_path / f"line{copies}.txt"
        path.write_text(" ".join([words] * copies) + "\n")
        result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                                text=True, check=True)
        growth[copies] = int(result.stdout.strip()) / 1024  # MB
    assert growth[6_500] < growth[1_300] + 150, growth
