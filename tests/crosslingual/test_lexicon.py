"""The hsk gloss lexicon (English -> most frequent Chinese word) and word-by-word lexicon
translation, the stand-in for MT in translate-train and Unicoder's multi-language
fine-tuning (issue 24)."""

from lmlab.crosslingual.lexicon import (gloss_lexicon, gloss_words, hsk_lexicon,
                                        lexicon_coverage, lookup, translate_words)

RECORDS = [[("好", "good; well"), ("电影", "movie; film"), ("请", "to ask; to invite")],
           [("好", "good"), ("佳", "good"), ("佳", "fine"), ("杜", "surname Du")],
           [("良", "good"), ("这", "(pronoun) this"), ("了", "(completed action marker)")]]


def test_gloss_words_keep_one_word_senses():
    assert gloss_words("to ask; to invite") == ["ask", "invite"]
    assert gloss_words("(pronoun) this") == ["this"]
    assert gloss_words("surname Du; abbr. for X") == []
    assert gloss_words("to look after; (completed action marker)") == []


def test_lexicon_takes_the_most_frequent_chinese_word():
    lexicon = gloss_lexicon(RECORDS)
    # good: 好 x2, 佳 x1, 良 x1
    assert lexicon == {"good": "好", "well": "好", "movie": "电影", "film": "电影",
                       "ask": "请", "invite": "请", "fine": "佳", "this": "这"}
    assert gloss_lexicon([[("甲", "x"), ("乙", "x")]]) == {"x": "乙"}  # a tie: U+4E59 < U+7532


def test_translate_word_by_word_and_coverage():
    lexicon = gloss_lexicon(RECORDS)
    assert lookup("Films", lexicon) == "电影" and lookup("is", {"i": "我"}) is None
    assert translate_words("this good movie , not fine !", lexicon) == "这好电影,佳!"
    assert translate_words("unknown words", lexicon) == "。"
    coverage = lexicon_coverage(["this good movie , not", "films 2"], lexicon)
    assert coverage == {"entries": 8, "tokens": 5, "covered_tokens": 4, "token_coverage": 80.0,
                        "types": 5, "covered_types": 4, "type_coverage": 80.0}


def test_hsk_lexicon_sentiment_words():
    lexicon = hsk_lexicon()
    assert len(lexicon) == 4103
    assert [lookup(w, lexicon) for w in ("good", "bad", "movie", "boring", "not", "love")] == \
        ["好", "坏", "电影", "无聊", "不", "爱"]
