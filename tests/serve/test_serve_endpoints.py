"""Every endpoint of ``lmlab serve`` through FastAPI's TestClient, each answer checked
against the lmlab function it wraps (issue 23)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmlab.evaluation.fill_mask import fill_mask
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.generation import GenerationOptions
from lmlab.ngram import load_run as load_ngram
from lmlab.ngram.score import perplexity as ngram_perplexity
from lmlab.recipes.evaluate import generate_from_run
from lmlab.training.checkpoint import load_run
from lmlab.wordvec.io import load_vectors

TEXT = "the company said its profit rose"


def _post(client, endpoint: str, **body) -> dict:
    response = client.post(f"/{endpoint}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_models_lists_each_kind_with_its_endpoints(client):
    listed = {m["name"]: m for m in client.get("/models").json()["models"]}
    assert {name: (m["kind"], m["endpoints"]) for name, m in listed.items()} == {
        "gpt": ("causal-lm", ["score", "generate", "embed"]),
        "lstm": ("causal-lm", ["score", "generate", "embed"]),
        "bert": ("masked-lm", ["fill-mask", "embed"]),
        "bart": ("seq2seq", ["generate", "embed"]),
        "sst2": ("classifier", ["classify", "embed"]),
        "ner": ("tagger", ["tag", "embed"]),
        "headlines": ("generator", ["generate"]),
        "kn3": ("ngram", ["score", "generate"]),
        "vectors": ("word-vectors", ["embed"]),
    }
    assert listed["bert"]["mask_token"] == "[MASK]" and listed["sst2"]["labels"] == ["0", "1"]
    assert listed["lstm"]["recurrent"] is True
    assert client.get("/health").json() == {"status": "ok", "models": 9, "queued": 0}


@pytest.mark.parametrize("name", ["gpt", "lstm"])
def test_score_of_a_causal_lm_is_its_held_out_perplexity(client, runs, name):
    answer = _post(client, "score", model=name, text=TEXT)
    config, tokenizer, model = load_run(runs[name])
    ids = [tokenizer.eos_id] + tokenizer.encode(TEXT) + [tokenizer.eos_id]
    expected = evaluate_perplexity(model, config, tokenizer, np.array(ids))
    assert answer["perplexity"] == pytest.approx(expected["perplexity"], rel=1e-5)
    assert [t["token"] for t in answer["tokens"]] == TEXT.split() + ["<eos>"]
    assert math.exp(-sum(t["logprob"] for t in answer["tokens"]) / 7) == \
        pytest.approx(answer["perplexity"])


def test_score_of_an_ngram_run_follows_kenlm(client, runs):
    answer = _post(client, "score", model="kn3", text=TEXT + " qwertyuiop")
    expected = ngram_perplexity(load_ngram(runs["kn3"]), [(TEXT + " qwertyuiop").split()])
    assert answer["perplexity"] == pytest.approx(expected["perplexity"], rel=1e-9)
    assert answer["tokens"][-1]["token"] == "</s>"
    assert [t["oov"] for t in answer["tokens"]] == [False] * 6 + [True, False]


def test_fill_mask_is_lmlab_fill_mask(client, runs):
    text = "the stock market [MASK] sharply"
    answer = _post(client, "fill-mask", model="bert", text=text, top_k=3)
    _, tokenizer, model = load_run(runs["bert"])
    expected = fill_mask(model, tokenizer, text, 3)
    assert [[(c["token"], pytest.approx(c["probability"])) for c in row]
            for row in answer["masks"]] == [[(t, p) for t, p in row] for row in expected]


@pytest.mark.parametrize("name, options", [
    ("gpt", {}), ("lstm", {"do_sample": True, "top_k": 5, "seed": 3}),
    ("bart", {"num_beams": 2, "no_repeat_ngram_size": 2}),
])
def test_generate_is_lmlab_generate(client, runs, name, options):
    answer = _post(client, "generate", model=name, text="the company said", max_new_tokens=6,
                   **options)
    expected = generate_from_run(str(runs[name]), ["the company said"],
                                 GenerationOptions(max_new_tokens=6, **options))
    assert answer["generated_text"] == expected[0]


def test_generate_of_a_finetuned_generator_and_an_ngram_run(client):
    headline = _post(client, "generate", model="headlines", text="shares of the company fell",
                     max_new_tokens=5)
    assert 1 <= len(headline["generated_text"].split()) <= 5
    greedy = [_post(client, "generate", model="kn3", text="the company", max_new_tokens=4)
              for _ in range(2)]
    assert greedy[0] == greedy[1] and greedy[0]["generated_text"].startswith("the company")
    sampled = _post(client, "generate", model="kn3", text="the company", max_new_tokens=4,
                    do_sample=True, seed=1)
    assert sampled["generated_text"].startswith("the company")


def test_classify_returns_the_label_and_its_probabilities(client):
    answer = _post(client, "classify", model="sst2", text="a gripping , funny film")
    assert set(answer["scores"]) == {"0", "1"} and sum(answer["scores"].values()) == \
        pytest.approx(1.0)
    assert answer["label"] == max(answer["scores"], key=answer["scores"].get)
    pair = _post(client, "classify", model="sst2", text="a film", text_pair="a movie")
    assert pair["label"] in ("0", "1")


def test_tag_gives_one_tag_per_word(client):
    answer = _post(client, "tag", model="ner", text="EU rejects German call to boycott lamb .")
    assert [w["word"] for w in answer["words"]] == "EU rejects German call to boycott lamb .".split()
    labels = {m["name"]: m for m in client.get("/models").json()["models"]}["ner"]["labels"]
    assert all(w["tag"] in labels for w in answer["words"])


def test_embed_a_word_vector_and_a_sentence_vector(client, runs):
    words, vectors = load_vectors(runs["vectors"])
    answer = _post(client, "embed", model="vectors", text="stock", neighbors=2)
    assert answer["vector"] == pytest.approx(vectors[words.index("stock")].tolist())
    assert len(answer["neighbors"]) == 2 and answer["dimensions"] == 16
    everyone = _post(client, "embed", model="vectors", text="stock", neighbors=50)["neighbors"]
    assert sorted(n["word"] for n in everyone) == sorted(set(words) - {"stock"})
    assert _post(client, "embed", model="vectors", text="MARKET")["word"] == "market"
    for name in ("bert", "gpt", "bart", "sst2"):
        sentence = _post(client, "embed", model=name, text=TEXT)
        assert len(sentence["vector"]) == sentence["dimensions"] == 128


def test_a_batch_answers_one_result_per_text(client):
    answer = _post(client, "score", model="gpt", texts=[TEXT, "shares fell"])
    single = _post(client, "score", model="gpt", text="shares fell")
    assert len(answer["results"]) == 2
    assert answer["results"][1]["perplexity"] == pytest.approx(single["perplexity"], rel=1e-5)


def test_openapi_documents_every_endpoint_and_the_playground_is_served(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/score", "/fill-mask", "/generate", "/classify", "/tag", "/embed", "/models",
            "/health"} <= set(paths)
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "playground.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/playground.js").headers["content-type"].startswith("text/javascript")
