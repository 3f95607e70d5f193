"""A few-step smoke run of every preset, then evaluate, generate / fill-mask."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_overrides  # noqa: E402

from lmlab.config import load_config
from lmlab.errors import LmlabError
from lmlab.presets import preset_names, preset_path
from lmlab.generation import GenerationOptions
from lmlab.recipes.evaluate import generate_from_run, perplexity_of_run
from lmlab.training.trainer import train

PRESETS = preset_names()


def _measured(result: dict) -> bool:
    """A held-out measure that means something: a perplexity above 1, or (context2vec)
    fill-the-slot accuracies in [0, 1], top-1 at most top-10."""
    if result["kind"] == "fill-slot":
        return 0 <= result["accuracy"] <= result["top10_accuracy"] <= 1
    return result["perplexity"] > 1


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_and_evaluates(preset, precision, tiny_corpus, tmp_path):
    """bf16 runs the GPU's mixed-precision path (autocast) on the CPU."""
    raw_preset = load_config(preset_path(preset))
    # Keep each preset's own architecture; shrink only the data shapes.
    overrides = tiny_overrides(preset, tiny_corpus, steps=3, every=3)
    overrides = [o for o in overrides if not o.startswith("model.")]
    overrides += ["data.seq_len=16", "data.batch_size=2", f"train.precision={precision}"]
    config = load_config(preset_path(preset), overrides)
    assert config.model == raw_preset.model
    result = train(config, tmp_path / "run", log=lambda *_: None)
    assert result.steps == 3 and _measured(result.valid)
    scored = perplexity_of_run(str(tmp_path / "run"), None, "test", max_tokens=300)
    assert scored["tokens"] > 0 and _measured(scored)
    kind = {"clm": "causal", "mass": "denoising", "bart": "denoising",
            "t5": "denoising", "xlnet": "permutation",
            "autoencoder": "reconstruction",
            "bilm": "bilm"}.get(config.objectives[0].name, "masked")
    kind = {"context2vec": "fill-slot"}.get(config.objectives[0].name, kind)
    assert scored["kind"].endswith(kind)  # ELECTRA: "generator-masked"
    if kind in ("causal", "denoising"):  # every model that generates: sampling and beams
        for options in (GenerationOptions(max_new_tokens=5, do_sample=True, top_p=0.9),
                        GenerationOptions(max_new_tokens=5, num_beams=2)):
            texts = generate_from_run(str(tmp_path / "run"), ["the company", "a"], options)
            assert len(texts) == 2 and all(isinstance(text, str) for text in texts)
            if kind == "causal":
                assert texts[0].startswith("the company") and len(texts[0].split()) >= 3
