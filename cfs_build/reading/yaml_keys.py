"""How v5 finds depends_on, input and output among the keys of the frontmatter's mapping.

v5's YAML (goccy/go-yaml) decodes the frontmatter into a struct by first collecting the
mapping's keys as strings, following merge keys (`<<`), and only then looking the three
fields up. That step reads keys otherwise than PyYAML does (FORMAT.md 4.1):

- a key that is no string to it (a plain `1`, `1.5`, `true`, `~`; typed as YAML 1.2
  does, so `yes` and `2024-01-01` are strings) ends the collecting with nothing
  collected: no field is read at all, and that is no error;
- a key that arrives twice, once through a merge key and once written out (or through two
  merged mappings), is an error (`duplicate key`), where PyYAML lets the written one win;
- a merge key whose value is a list of mappings (`<<: [*a, *b]`) is an error (`sequence
  was used where mapping is expected`): only one mapping (or an alias to one) merges.

Works on PyYAML's composed nodes, before construction flattens the merge keys away.
"""
from __future__ import annotations

from typing import NamedTuple

from .go_scalars import WORDS as _WORDS, plain_kind

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"


class KeyReading(NamedTuple):
    """What v5 makes of a mapping's keys. ``keys``: the keys it collects (merged ones
    included); ``odd``: (the first key that is no string, its kind), when it collects
    none; ``twice``: (the key node where a key arrives again, written out or the
    merge key `<<` that brings it, the key's text, whether it is written out there); ``merged_list``: the list a merge key was given."""

    keys: frozenset = frozenset()
    odd: tuple | None = None
    twice: tuple | None = None
    merged_list: object = None

    @property
    def refused(self) -> bool:
        return self.twice is not None or self.merged_list is not None


def key_kind(source: str, node) -> str:
    """The kind v5's YAML gives a mapping key: `string`, `null`, `boolean`, `integer`,
    `float`, or `other` (a list or a mapping as a key)."""
    if node.id != "scalar":
        return "other"
    if explicit_tag(source, node):
        # A tag of the YAML types the key; a local one (`!x`) leaves it as if untagged.
        kind = _TAGGED.get(node.tag)
        if kind is not None or node.tag.startswith("tag:yaml.org,2002:"):
            return kind or "string"
    if node.style not in (None, ""):
        return "string"  # quoted or a block scalar: text
    return plain_kind(node.value)


_TAGGED = {STR_TAG: "string", "tag:yaml.org,2002:int": "integer",
           "tag:yaml.org,2002:float": "float", "tag:yaml.org,2002:bool": "boolean",
           "tag:yaml.org,2002:null": "null"}


def explicit_tag(source: str, node) -> bool:
    """The node is written with a tag (`!!str 12`, `&a !!int 1`): its properties, an
    anchor and a tag in either order, come first where PyYAML's node starts."""
    index, end = node.start_mark.index, node.end_mark.index
    while index < end and source[index] in "&!":
        if source[index] == "!":
            return True
        while index < end and source[index] not in " \t\n":
            index += 1
        while index < end and source[index] in " \t\n":
            index += 1
    return False


def read_keys(source: str, mapping) -> KeyReading:
    """How v5 reads the keys of ``mapping`` (a PyYAML MappingNode, not yet constructed)."""
    keys, reading = _collect(source, mapping, (id(mapping),))
    return reading if keys is None else KeyReading(frozenset(keys))


def _collect(source: str, mapping, visiting: tuple) -> tuple[dict | None, KeyReading]:
    """(the keys v5 collects, each with the key node that brings it; None when a key is
    no string) and the KeyReading; ``visiting``: the mappings being merged into."""
    seen: dict[str, object] = {}
    for key, value in mapping.value:
        if key.tag == MERGE_TAG and key.id == "scalar":
            if value.id == "sequence":
                return None, KeyReading(merged_list=value)
            if value.id != "mapping" or id(value) in visiting:
                continue  # PyYAML refuses a scalar; a mapping merging itself adds nothing
            merged, reading = _collect(source, value, visiting + (id(value),))
            if reading.refused:
                return None, reading
            # A merged mapping with a key that is no string contributes nothing.
            for text in merged or {}:
                if text in seen:
                    return None, KeyReading(twice=(key, text, False))
                seen[text] = key
            continue
        text = key.value
        # (written out for the usual key, a plain word: read for every frontmatter)
        if not (key.id == "scalar" and text[:1].isalpha() and text not in _WORDS
                and source[key.start_mark.index] not in "!&") \
                and (kind := key_kind(source, key)) != "string":
            return None, KeyReading(odd=(key, kind))
        if key.value in seen:
            return None, KeyReading(twice=(key, key.value, True))
        seen[key.value] = key
    return seen, KeyReading()
