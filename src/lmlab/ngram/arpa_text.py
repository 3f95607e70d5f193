"""Vectorized ARPA text: ``%.7g`` floats and whole sections as byte matrices.

Formatting one float in Python costs about a microsecond; a 5-gram PTB model has 2.3M
entries and two numbers per line, so the simple writer (:func:`lmlab.ngram.arpa.
write_arpa_reference`) spends most of a build formatting. Here a number's text is a few
byte ranges (sign, digits before and after the point) computed for whole columns at once,
and a chunk of lines is gathered in one step from the byte ranges (numbers, words,
separators) of one source buffer.

Numbers are written exactly as ``"%.7g" % value`` (the reference writer's format, byte for
byte): 7 significant digits, positional when the decimal exponent is in [-4, 7), trailing
zeros stripped. Values that need the exponent form, are not finite, or sit within 1e-6 of a
rounding tie (where the float product ``|v| * 10^k`` could round the other way) are
formatted by Python; they are rare.
"""

from __future__ import annotations

import numpy as np

PRECISION = 7
_CONSTANT = np.frombuffer(b"-0.0000", dtype=np.uint8)  # sign, "0.", then zeros of 0.000ddd
_DIGIT_TABLE = (np.arange(10000)[:, None] // np.array([1000, 100, 10, 1]) % 10
                + ord("0")).astype(np.uint8).view(np.uint32).ravel()  # (10000,) "0000".."9999"
_TRAILING_ZEROS = np.array([4] + [len(str(i)) - len(str(i).rstrip("0")) for i in range(1, 10000)])
_FLOAT_POWERS = 10.0 ** np.arange(-40, 41)  # exact for 10^0 .. 10^22, as 10.0 ** k
SEGMENTS = 4  # per number: sign, integer part (or "0.000"), ".", digits after it


def number_segments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``"%.7g" % values[i]`` for all i as byte ranges: (source uint8, starts (M, 4),
    lengths (M, 4)); the text of value i is its 4 ranges of ``source``, concatenated.

    With the 7 significant digits d1..d7 (trailing zeros dropped) and decimal exponent e,
    the text is ``[-] d1..d(e+1) [. d(e+2)..]`` for e >= 0, ``[-] 0.0..0 d1..`` for e < 0.
    """
    values = np.asarray(values, dtype=np.float64)
    m = values.shape[0]
    magnitude = np.abs(values)
    finite = np.isfinite(values)
    nonzero = finite & (magnitude > 0)
    safe = np.where(nonzero, magnitude, 1.0)
    exponent = np.clip(np.floor(np.log10(safe)), -30, 30).astype(np.int64)  # maybe off by 1
    scaled = safe * _FLOAT_POWERS[PRECISION - 1 - exponent + 40]  # (M,) ~ [1e6, 1e7)
    digits = np.floor(scaled + 0.5).astype(np.int64)
    carry = digits == 10 ** PRECISION  # 9.9999996 -> 10.00000: one more integer digit
    digits = np.where(carry, 10 ** (PRECISION - 1), digits)
    exponent = exponent + carry
    fraction = scaled - np.floor(scaled)
    python = (~finite
              | (nonzero & (np.abs(fraction - 0.5) < 1e-6))  # near a tie: let C decide
              | (nonzero & ((digits < 10 ** (PRECISION - 1)) | (digits >= 10 ** PRECISION)))
              | (nonzero & ((exponent < -4) | (exponent >= PRECISION))))  # exponent form
    positional = nonzero & ~python
    digits = np.where(positional, digits, 0)  # (M,) 7 significant digits; 0 for zeros
    exponent = np.where(positional, exponent, 0)
    high, low = digits // np.int64(10000), digits % np.int64(10000)  # scalar: numpy's fast path
    text = np.stack([_DIGIT_TABLE[high], _DIGIT_TABLE[low]], axis=1).view(np.uint8)  # (M, 8) "0" d1..d7
    kept = PRECISION - np.where(low > 0, _TRAILING_ZEROS[low], 4 + _TRAILING_ZEROS[high])
    kept = np.where(digits > 0, kept, 1)  # (M,) significant digits without trailing zeros
    digit_start = _CONSTANT.size + 8 * np.arange(m) + 1  # where d1 sits in source
    after_point = np.maximum(kept - exponent - 1, 0)  # e >= 0: digits after "."
    small = exponent < 0
    starts = np.empty((m, SEGMENTS), dtype=np.int64)
    lengths = np.empty((m, SEGMENTS), dtype=np.int64)
    starts[:, 0], lengths[:, 0] = 0, np.signbit(values)
    starts[:, 1] = np.where(small, 1, digit_start)
    lengths[:, 1] = np.where(small, 1 - exponent, exponent + 1)  # "0.00" or d1..d(e+1)
    starts[:, 2], lengths[:, 2] = 2, np.where(small, 0, after_point > 0)
    starts[:, 3] = np.where(small, digit_start, digit_start + exponent + 1)
    lengths[:, 3] = np.where(small, kept, after_point)
    rare = np.flatnonzero(python)  # exponent form, inf/nan, rounding ties: Python formats
    extra = [("%.7g" % value).encode("ascii") for value in values[rare].tolist()]
    extra_lengths = np.array([len(e) for e in extra], dtype=np.int64)
    lengths[rare] = 0
    starts[rare, 1] = _CONSTANT.size + 8 * m + np.cumsum(extra_lengths) - extra_lengths
    lengths[rare, 1] = extra_lengths
    source = np.concatenate([_CONSTANT, text.ravel(), np.frombuffer(b"".join(extra), np.uint8)])
    return source, starts, lengths


def format_numbers(values: np.ndarray) -> list[str]:
    """``["%.7g" % v for v in values]`` through :func:`number_segments` (for tests)."""
    source, starts, lengths = number_segments(values)
    return [concat_ranges(source, s, n).tobytes().decode("ascii") for s, n in zip(starts, lengths)]


def concat_ranges(source: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([source[s:s + n] for s, n in zip(starts, lengths)])``, vectorized."""
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    out_starts = np.cumsum(lengths) - lengths
    index = np.repeat(starts.astype(np.int64) - out_starts, lengths) + np.arange(total)
    return source[index]


def word_buffer(words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes of ``"w "`` for every word, back to back, (V,) start of each, (V,) UTF-8 length)."""
    encoded = [w.encode("utf-8") for w in words]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    return np.frombuffer(b" ".join(encoded) + b" ", dtype=np.uint8), starts, lengths


LINES_PER_CHUNK = 1 << 16


def section_chunks(words: tuple[np.ndarray, np.ndarray, np.ndarray], ngram_words: np.ndarray,
                   log_prob: np.ndarray, log_backoff: np.ndarray | None):
    """Yield the bytes of ARPA lines ``prob<TAB>w1 .. wk[<TAB>backoff]\n``, chunk by chunk.

    ``words`` from :func:`word_buffer`; ``ngram_words`` (M, k) word ids, first word first;
    ``log_backoff`` None for the top order. Each line is a list of byte ranges (segments)
    of one source buffer, gathered with :func:`concat_ranges`.
    """
    word_bytes, word_starts, word_lengths = words
    rows, k = ngram_words.shape
    separators = np.frombuffer(b"\t\n", dtype=np.uint8)
    tab, newline = word_bytes.size, word_bytes.size + 1  # where "\t" and "\n" sit in source
    for begin in range(0, rows, LINES_PER_CHUNK):
        end = min(rows, begin + LINES_PER_CHUNK)
        count = end - begin
        one = np.ones((count, 1), dtype=np.int64)
        ids = ngram_words[begin:end]
        prob_source, prob_starts, prob_lengths = number_segments(log_prob[begin:end])
        base = tab + 2
        source = [word_bytes, separators, prob_source]
        # (count, segments) in line order: prob, tab, "w1 " .. "wk"[, tab, backoff], newline
        starts = [prob_starts + base, one * tab, word_starts[ids]]
        lengths = [prob_lengths, one, word_lengths[ids] + (np.arange(k) < k - 1)]
        if log_backoff is not None:
            base += prob_source.size
            backoff_source, backoff_starts, backoff_lengths = number_segments(log_backoff[begin:end])
            source.append(backoff_source)
            starts += [one * tab, backoff_starts + base]
            lengths += [one, backoff_lengths]
        starts.append(one * newline)
        lengths.append(one)
        yield concat_ranges(np.concatenate(source), np.concatenate(starts, axis=1).ravel(),
                            np.concatenate(lengths, axis=1).ravel()).tobytes()
