"""Issue 22, data: image reading errors, easy-VQA splits, the emoji pair builder."""

import json

import numpy as np
import pytest

from lmlab.errors import ConfigError, DataError
from lmlab.multimodal import easy_vqa_data, emoji_pairs
from lmlab.multimodal.images import check_image_batch, load_image


def _png(path, mode="RGB", size=(8, 6), color=(10, 20, 30)):
    from PIL import Image

    Image.new(mode, size, color).save(path)
    return path


def test_load_image_rgb_and_resize(tmp_path):
    path = _png(tmp_path / "a.png")
    array = load_image(path)
    assert array.shape == (6, 8, 3) and array.dtype == np.uint8
    assert array[0, 0].tolist() == [10, 20, 30]
    assert load_image(path, size=4).shape == (4, 4, 3)


def test_transparent_pixels_are_laid_on_white(tmp_path):
    path = _png(tmp_path / "t.png", mode="RGBA", color=(0, 0, 0, 0))
    assert load_image(path)[0, 0].tolist() == [255, 255, 255]


def test_unreadable_image_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_text("not a picture")
    with pytest.raises(DataError, match=r"broken\.png: not a readable image"):
        load_image(path)
    with pytest.raises(DataError, match=r"missing\.png: no such image file"):
        load_image(tmp_path / "missing.png")


def test_wrong_mode_image_names_the_file(tmp_path):
    from PIL import Image

    path = tmp_path / "depth.tif"
    Image.new("F", (4, 4), 1.5).save(path)
    with pytest.raises(DataError, match=r"depth\.tif: image mode 'F' is not a colour picture"):
        load_image(path)


def test_wrong_size_without_resize_names_the_file(tmp_path):
    path = _png(tmp_path / "small.png", size=(8, 6))
    with pytest.raises(DataError, match=r"small\.png: image is 8x6, the patch embedding takes "
                                        r"64x64"):
        load_image(path, size=64, resize=False)


def test_image_batch_check():
    check_image_batch(np.zeros((2, 4, 4, 3), np.uint8), 4, "x")
    with pytest.raises(DataError, match=r"cache/images\.npy: images have shape \(2, 4, 4, 3\), "
                                        r"expected \(N, 8, 8, 3\)"):
        check_image_batch(np.zeros((2, 4, 4, 3), np.uint8), 8, "cache/images.npy")


def test_easy_vqa_dev_split_is_seeded_disjoint_and_by_image():
    ids = list(range(100))
    train, dev = easy_vqa_data.split_image_ids(ids, seed=3, dev_fraction=0.1)
    assert len(dev) == 10 and len(train) == 90 and not set(train) & set(dev)
    assert sorted(train + dev) == ids
    assert easy_vqa_data.split_image_ids(ids[::-1], seed=3, dev_fraction=0.1) == (train, dev)
    assert easy_vqa_data.split_image_ids(ids, seed=4, dev_fraction=0.1)[1] != dev


def test_easy_vqa_test_split_is_held_out_of_training():
    with pytest.raises(ConfigError, match="'test' is held out of training"):
        easy_vqa_data.load_split("test")
    with pytest.raises(ConfigError, match="'valid' is not one of train, dev, test"):
        easy_vqa_data.load_split("valid")


def test_easy_vqa_split_reads_images_and_questions():
    split = easy_vqa_data.load_split("dev", limit_images=3)
    assert split.images.shape == (3, 64, 64, 3) and split.images.dtype == np.uint8
    assert len(split.answers) == 13 and {e.image for e in split.examples} == {0, 1, 2}
    _, dev_ids = easy_vqa_data.split_image_ids(list(range(4000)))
    assert split.image_ids == dev_ids[:3]
    assert split.labels().shape == (len(split.examples),)


def test_question_without_image_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"questions\.json: question 1 refers to image 7, which "
                                        r"has no 7\.png"):
        easy_vqa_data.check_questions_have_images([0, 7], {0: "0.png"},
                                                  tmp_path / "questions.json")


def test_emoji_names():
    assert emoji_pairs._name(":dog_face:") == "dog face"
    entries = {e["emoji"]: e for e in emoji_pairs.emoji_entries()}
    assert entries["🐶"] == {"emoji": "🐶", "codepoint": "U+1F436", "en": "dog face",
                             "aliases": ["dog"], "zh": "狗脸"}
    assert all(len(e["emoji"]) == 1 for e in entries.values())


needs_font = pytest.mark.skipif(
    not any(__import__("os").path.isfile(p) for p in emoji_pairs.FONT_PATHS),
    reason="Debian's fonts-noto-color-emoji is not installed")


@needs_font
def test_emoji_builder_is_deterministic_for_a_font_and_seed(tmp_path):
    first = emoji_pairs.build_pairs(tmp_path / "a", size=16, seed=5, limit=40)
    second = emoji_pairs.build_pairs(tmp_path / "b", size=16, seed=5, limit=40)
    assert first.images.shape[1:] == (16, 16, 3) and len(first.captions) == len(first.images)
    assert (first.folder / "images.npy").read_bytes() == (second.folder / "images.npy").read_bytes()
    assert first.captions == second.captions
    assert {c["split"] for c in first.captions} == {"train", "test"}
    assert sum(c["split"] == "test" for c in first.captions) == round(0.2 * len(first.captions))
    other = emoji_pairs.build_pairs(tmp_path / "c", size=16, seed=6, limit=40)
    assert [c["split"] for c in other.captions] != [c["split"] for c in first.captions]
    # Built once: a second call reads the cache (same arrays, no re-render).
    again = emoji_pairs.build_pairs(tmp_path / "a", size=16, seed=5, limit=40)
    assert np.array_equal(again.images, first.images)
    assert not any(picture.min() == 255 for picture in first.images)  # no blank picture kept


@needs_font
def test_emoji_cache_with_other_settings_is_refused(tmp_path):
    pairs = emoji_pairs.build_pairs(tmp_path, size=8, seed=0, limit=10)
    meta = json.loads((pairs.folder / "meta.json").read_text())
    meta["test_fraction"] = 0.5
    (pairs.folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"meta\.json: built with other settings"):
        emoji_pairs.build_pairs(tmp_path, size=8, seed=0, limit=10)


def test_missing_font_is_one_line(tmp_path):
    with pytest.raises(DataError, match=r"nofont\.ttf: no emoji font file; install Debian's "
                                        r"fonts-noto-color-emoji"):
        emoji_pairs.find_font(tmp_path / "nofont.ttf")
