"""A _node.md's frontmatter as v5 decodes it: the fields depends_on, input and output
with their lines, and findings (in v5's words where known) for YAML it refuses.

v5 decodes with goccy/go-yaml into a struct of three fields; cfs reads the common
plain shapes itself (plain_yaml.py) and everything else with PyYAML, then decodes as
goccy would (go_scalars.py, yaml_keys.py; FORMAT.md 4.1).
"""
from __future__ import annotations

import datetime
import difflib
import re
from dataclasses import replace
from functools import lru_cache

from ..errors import ERROR, WARNING, Finding
from .files import as_json_text
from .go_scalars import plain_kind, plain_text
from .outputs import v5_path_problem
from .plain_yaml import may_nest_deep, read_plain
from .unparsed import NOT_A_PATH
from .yaml_keys import explicit_tag, read_keys

FRONTMATTER_KEYS = ("depends_on", "input", "output")

_TAB_REFUSED = "found character '\\t' that cannot start any token"  # PyYAML's words
# A tab in a line's indentation (or a line break PyYAML knows and goccy may not): there
# the pure loader's verdict stands.
_INDENTING_TAB = re.compile("^ *\t|[\r\x85\u2028\u2029]", re.MULTILINE)


class Report:
    """The findings of one _node.md, in the order they are found."""

    def __init__(self, name: str, file: str):
        self.name, self.file, self.items = name, file, []

    def add(self, rule: str, detail: str, line: int | None, severity: str = ERROR) -> None:
        self.items.append(Finding(self.name, rule, detail, self.file, line, severity))


def read_frontmatter(source: str, report: Report) -> dict:
    """The fields of the YAML ``source`` between the fences (each with its line or
    lines); its problems go to ``report``, with v5's words where cfs knows them."""
    before = len(report.items)
    found = _frontmatter(source, report)
    if len(report.items) > before:
        _in_v5_words(report, before, source)
    return found


def _in_v5_words(report: Report, first: int, source: str) -> None:
    """Give the frontmatter's findings (from ``first`` on) v5's error text for the YAML,
    where cfs knows it; computed only here, on the error path."""
    from .yaml_errors import v5_yaml_error

    v5 = v5_yaml_error(source)
    if v5 is not None:
        report.items[first:] = [replace(f, v5=v5) for f in report.items[first:]]


@lru_cache(maxsize=2)  # a class made once per base, not module state
def _loader(base):
    """``base`` (PyYAML's safe loader, C or pure) reading YAML 1.1's `=` (the "value" type,
    which it has no constructor for) as the string it is, and a node under a local tag
    (`!x`) as if untagged, as v5's YAML does."""
    loader = type(f"V5{base.__name__}", (base,), {})
    loader.add_constructor("tag:yaml.org,2002:value", base.construct_yaml_str)
    loader.add_multi_constructor("!", _untagged)
    return loader


def _untagged(loader, suffix: str, node):
    """A node under a local tag (`!x`): v5's YAML reads it as if it had no tag, where
    PyYAML's safe loader refuses a tag it has no constructor for."""
    if node.id == "scalar":
        return loader.construct_scalar(node)
    if node.id == "sequence":
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _load(yaml, loader_class, source: str):
    """The first document's root node (for line numbers), the first key written twice in
    one mapping (see _duplicate_key), the first document's safely constructed value and
    how v5 reads the keys of its mapping (yaml_keys; None when it is no mapping).

    v5's YAML reads the whole stream, so a later document must parse too, but decodes
    only the first one: a line '--- ' (a closing line with a trailing space) starts a
    second document instead of ending the frontmatter."""
    loader = _loader(loader_class)(source)
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.get_node())
        if not documents:
            return None, None, None, None
        root = documents[0]
        _keep_byte_order_mark(yaml, source, root)
        # Before constructing: merge keys ('<<') are flattened into the node then.
        twice = next(filter(None, (_duplicate_key(doc, yaml) for doc in documents)), None)
        keys = read_keys(source, root) if isinstance(root, yaml.MappingNode) else None
        # (a merge key is written `<<` or tagged `!!merge`, perhaps with %-escapes)
        too_many = _merged_past(root, MERGED_ENTRIES) \
            if "<<" in source or "merge" in source or "%" in source else None
        if too_many is not None:
            if twice is not None or (keys is not None and keys.refused):
                return root, twice, {}, keys  # refused before anything is constructed
            raise yaml.constructor.ConstructorError(
                None, None, f"its merge keys ('<<') copy the same mappings into more than "
                f"{MERGED_ENTRIES} keys; write the keys out or merge each mapping once",
                too_many.start_mark)
        try:
            data = loader.construct_document(root)
        except (KeyError, IndexError, AttributeError):
            # PyYAML's constructors of !!bool, !!int, !!float and !!timestamp fail so on a
            # text they cannot read (`!!bool maybe`, `!!int` with nothing after it).
            raise _unreadable_tagged(yaml, loader, root) from None
        return root, twice, data, keys
    finally:
        loader.dispose()


# More keys than this, merges ('<<') expanded, in all the frontmatter's mappings: PyYAML
# copies every merged mapping into each one merging it, so a mapping merged twice at every
# level of a chain doubles per level (thirty short lines make billions); a chain merging
# each mapping once stays far below it (its depth stops PyYAML first).
MERGED_ENTRIES = 1_000_000


def _merged_past(root, limit: int):
    """The mapping node with the most keys, merges expanded as PyYAML's constructor
    expands them, when all the document's mappings come to more than ``limit`` keys so;
    None when they stay within it. Counted, not expanded: each mapping once."""
    sizes: dict[int, int] = {}
    mappings = []

    def size(node) -> int:
        # (recursing one frame a level, as PyYAML's flatten_mapping does after it)
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 0  # (a mapping merging itself: PyYAML drops the merge first)
        total = 0
        for key, value in node.value:
            if key.tag != "tag:yaml.org,2002:merge":
                total += 1
                continue
            for merged in value.value if value.id == "sequence" else (value,):
                if merged.id == "mapping":
                    total += size(merged)
        sizes[id(node)] = total
        mappings.append(node)
        return total

    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.id == "mapping":
            size(node)
            stack += [part for pair in node.value for part in pair]
        elif node.id == "sequence":
            stack += node.value
    if sum(sizes.values()) <= limit:
        return None
    return max(mappings, key=lambda m: (sizes[id(m)], -m.start_mark.index))


def _keep_byte_order_mark(yaml, source: str, root) -> None:
    """A BOM opening the YAML (the line after the opening '---') is content to v5's YAML,
    which PyYAML drops: the first key is then `\ufeffoutput`, not `output`."""
    if not source.startswith("\ufeff") or not isinstance(root, yaml.MappingNode) \
            or not root.value:
        return
    key = root.value[0][0]
    if key.id == "scalar" and key.style in (None, "") and key.start_mark.line == 0 \
            and source.startswith(key.value, 1):
        key.value, key.tag = "\ufeff" + key.value, "tag:yaml.org,2002:str"


def _unreadable_tagged(yaml, loader, root):
    """The YAML error for the first scalar whose tag cannot read its text."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.id == "mapping":
            stack += [part for pair in node.value for part in pair]
        elif node.id == "sequence":
            stack += node.value
        elif node.tag in loader.yaml_constructors:
            try:
                loader.yaml_constructors[node.tag](loader, node)
            except Exception:  # (whatever the constructor raises: this is the node)
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                return yaml.constructor.ConstructorError(
                    None, None, f"{tag} cannot read {node.value!r}: write a value of "
                    "that type or drop the tag", node.start_mark)
    return yaml.constructor.ConstructorError(None, None, "a tagged value cannot be read",
                                             root.start_mark)


def _frontmatter(source: str, report: Report) -> dict:
    """Safe-load the YAML between the fences; return recognized keys with their lines."""
    # Blank to v5's YAML are spaces, tabs and line breaks (LF, CR) only: a frontmatter of
    # other white space (a no-break space, a form feed) is a scalar to it, not a mapping.
    if not source.strip(" \t\r\n"):
        return {}
    # v5's YAML reads its text as runes: each byte that is no UTF-8 (a lone surrogate
    # here, see tree.parse_bytes) is U+FFFD to it.
    source = as_json_text(source)
    plain = read_plain(source)
    if plain is not None:
        return plain
    return yaml_frontmatter(source, report)


# Characters PyYAML (YAML 1.1) reads otherwise than v5's YAML, which takes each as an
# ordinary character of the text: the line breaks it knows and goccy does not (NEL, LS,
# PS; goccy breaks lines at LF and CR only), and those it refuses as unprintable (C0 and
# C1 controls but tab, LF, CR and NEL, DEL, U+FFFE, U+FFFF; goccy checks none). While
# PyYAML reads, a character it takes as ordinary stands in for each: a noncharacter for
# a break, a private-use character (plane 15 or 16) for the others. NUL too: no file name can
# hold it, so the paths read from such a value are never opened or written (files.py,
# outputs.py, validate.py's unwritable_output), as v5's os calls fail on them.
_UNPRINTABLE = "".join(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F,
                                 *range(0x80, 0x85), *range(0x86, 0xA0), 0xFFFE, 0xFFFF)))
_OTHER_BREAKS = "\x85\u2028\u2029" + _UNPRINTABLE
_TO_HIDE = re.compile(f"[{re.escape(_OTHER_BREAKS)}]")


class _StandIns:
    """One choice of stand-ins: ``breaks`` the first of three noncharacters, ``others``
    the start of a private-use run as long as _UNPRINTABLE."""

    def __init__(self, breaks: int, others: int):
        self.chars = "".join(map(chr, range(breaks, breaks + 3))) + "".join(
            chr(others + ord(c)) for c in _UNPRINTABLE)
        self.hide = str.maketrans(_OTHER_BREAKS, self.chars)
        self.show = str.maketrans(self.chars, _OTHER_BREAKS)
        self.present = re.compile(f"[{re.escape(self.chars)}]")
        # A stand-in as repr() writes it in a finding's detail (a key is quoted so), and
        # the way repr() writes the character it stands for.
        self.escapes = {repr(stand_in)[1:-1]: repr(char)[1:-1]
                        for stand_in, char in zip(self.chars, _OTHER_BREAKS)}


# The text may hold a stand-in already, as itself or as a double-quoted scalar's escape
# (\U000F0001): read through such stand-ins, it would come back as the character they
# stand for, and an output another file than the one v5 reads. A choice the text leaves
# alone is taken.
_CHOICES = (_StandIns(0xFDD0, 0xF0000), _StandIns(0xFDD3, 0x100000),
            _StandIns(0xFDD6, 0xF0100))
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))")
_ESCAPED_STAND_IN = re.compile(r"(?<!\\)((?:\\\\)*)(\\u[0-9a-f]{4}|\\U[0-9a-f]{8})")


def _free_choice(source: str) -> _StandIns | None:
    """The first choice of stand-ins ``source`` holds none of, itself or escaped."""
    escaped = "".join(chr(code) for code in
                      (int(m[1] or m[2], 16) for m in _ESCAPE.finditer(source))
                      if code <= 0x10FFFF)
    return next((choice for choice in _CHOICES if choice.present.search(source) is None
                 and choice.present.search(escaped) is None), None)


def yaml_frontmatter(source: str, report: Report) -> dict:
    """_frontmatter's answer read with PyYAML, whatever the frontmatter's shape."""
    if _TO_HIDE.search(source) is None:
        return _read_yaml(source, report)
    choice = _free_choice(source)
    if choice is None:
        report.add("malformed_frontmatter", "cfs cannot read this frontmatter as v5 does: "
                   "it holds control characters or line breaks other than LF and CR, and "
                   "also the characters cfs reads them through (U+FDD0 to U+FDD8, with "
                   "private-use characters of planes 15 and 16), itself or escaped; "
                   "remove one or the other", 2)
        return {}
    first = len(report.items)
    found = _read_yaml(source.translate(choice.hide), report)
    report.items[first:] = [replace(f, detail=_show_breaks(f.detail, choice))
                            for f in report.items[first:]]
    return {key: (tuple(t.translate(choice.show) for t in value) if key == "depends_on"
                  else value.translate(choice.show), lines)
            for key, (value, lines) in found.items()}


def _show_breaks(detail: str, choice: _StandIns) -> str:
    """``detail`` with each stand-in back to the character it stands for, written as it
    was: the character itself, or its escape where repr() escaped the stand-in (not after
    a backslash of the text's own)."""
    return _ESCAPED_STAND_IN.sub(lambda m: m[1] + choice.escapes.get(m[2], m[2]),
                                 detail.translate(choice.show))


def _read_yaml(source: str, report: Report) -> dict:
    """yaml_frontmatter's answer, ``source`` holding no line break v5 does not know."""
    import yaml  # imported on first use: plain frontmatter (plain_yaml.py) never needs it

    # v5 hands its YAML the lines up to the closing fence without the last line break:
    # a block scalar ending the frontmatter (`input: |`) then has none to keep.
    lines_in = source.count("\n") + 1
    source = source.removesuffix("\n")
    try:
        try:
            # libyaml is several times faster; its pure-Python twin words the errors
            # (and places them) the same way on every machine, so it explains failures.
            # libyaml takes a tab after "key:" that the pure loader refuses: with a tab
            # only the pure loader reads (tests/reading/test_plain_yaml.py compares the two).
            # libyaml nests in C without a limit: deep enough, it overruns the stack and
            # the process dies; the pure loader stops at Python's recursion limit.
            fast = "\t" not in source and not may_nest_deep(source) \
                and getattr(yaml, "CSafeLoader", None)
            root, twice, data, keys = _load(yaml, fast or yaml.SafeLoader, source)
        except yaml.YAMLError as exc:
            if not fast:
                root, twice, data, keys = _past_tabs(yaml, source, exc)
            else:
                root, twice, data, keys = _load(yaml, yaml.SafeLoader, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        # An unclosed construct is only noticed at the end of the YAML; point at where it
        # opened rather than at the closing '---', which is not YAML at all.
        context = getattr(exc, "context_mark", None)
        if mark is not None and mark.index >= len(source) and context is not None:
            mark = context
        last = lines_in
        line = min(mark.line + 2, last) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        report.add("malformed_frontmatter", f"YAML error: {problem}", line)
        return {}
    except (ValueError, TypeError, RecursionError) as exc:
        report.add("malformed_frontmatter", f"YAML error: {exc}", 2)
        return {}
    if twice is not None:
        key, earlier = twice
        report.add("malformed_frontmatter", f"YAML error: mapping key {key.value!r} already "
                   f"defined on line {earlier.start_mark.line + 2}; keep one of them",
                   key.start_mark.line + 2)
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        report.add("malformed_frontmatter", "frontmatter must be a YAML mapping of keys "
                   "(depends_on, input, output)", 2)
        return {}
    if keys.refused:
        _refused_keys(keys, report)
        return {}
    if keys.odd is not None:
        key, kind = keys.odd
        report.add("frontmatter_key", f"v5 reads no field of this frontmatter (depends_on, "
                   f"input, output): its YAML takes the key {key.value!r} as {_ARTICLE[kind]} {kind}, "
                   "not a string, and then collects no key at all; quote the key or remove it",
                   key.start_mark.line + 2, WARNING)
        return {}
    _unknown_keys(root, report)
    lines = {}
    for key_node, value_node in root.value:
        if isinstance(key_node.value, str):
            # A mapping node's value is a list of (key, value) pairs, not of nodes.
            items = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
            lines[key_node.value] = (key_node.start_mark.line + 2, items, value_node)
    result = {}
    for key in ("depends_on", "input", "output"):
        if key not in data:
            continue
        line, items, value_node = lines.get(key, (2, [], None))
        if data[key] is None:
            if key != "depends_on" and value_node is not None and value_node.id == "scalar" \
                    and explicit_tag(source, value_node):
                # `!!null`: v5's YAML sets the field from the tagged node, whose value
                # (nil) leaves it an empty string, present (FORMAT.md 4.1: '' is present).
                result[key] = ("", line)
            continue
        if key not in keys.keys:
            # Merged from a mapping with a key that is no string (yaml_keys): v5 has none.
            report.add("frontmatter_key", f"v5 does not see {key!r}: the mapping it is "
                       "merged from ('<<') has a key that is not a string to its YAML, so "
                       "nothing of that mapping is merged; quote that key",
                       lines.get(key, (2,))[0], WARNING)
            continue
        value = data[key]
        if key == "depends_on":
            texts = [_as_text(source, v, item) for v, item in zip(value, items)] \
                if isinstance(value, list) and len(items) == len(value) else [None]
            if None in texts:
                report.add("malformed_frontmatter", "depends_on must be a list of names, "
                           "e.g. '- SPEC/x'", line)
                continue
            result[key] = (tuple(texts), tuple(item.start_mark.line + 2 for item in items))
        elif key == "input" and (text := _as_text(source, value, value_node)) is not None:
            result[key] = (text, line)
        elif key == "output" and not isinstance(value, str) and _is_plain(value_node) \
                and not explicit_tag(source, value_node) \
                and plain_kind(value_node.value) == "string" \
                and v5_path_problem(value_node.value) is not None:
            # PyYAML (YAML 1.1) reads a number where v5's YAML (1.2) reads a text that its
            # path rules refuse (`12:30:00`, base 60 to YAML 1.1: ':' makes it absolute):
            # that refusal is v5's finding. (A text they pass, `yes`, is X4's
            # malformed_frontmatter below, as for any output PyYAML reads as no string.)
            result[key] = (value_node.value, line)
        elif not isinstance(value, str):
            lead = "input must be one name, e.g. SPEC/x, not " if key == "input" \
                else NOT_A_PATH
            report.add("malformed_frontmatter", f"{lead}{type(value).__name__}", line)
        elif (kind := _plain_kind(source, value_node)) != "string":
            # PyYAML (YAML 1.1) reads a string where v5's YAML (1.2) reads a number:
            # `0o17`, `1.5e3`, `-.5`. Not the text written either way (X4).
            report.add("malformed_frontmatter", f"{NOT_A_PATH}"
                       f"{_ARTICLE[kind]} {kind}: v5 reads {value!r} as the {kind} "
                       f"{plain_text(value)}; quote "
                       "it to keep the text", line)
        elif _is_plain(value_node) and explicit_tag(source, value_node):
            # `!!str 0o17`: v5's YAML types the scalar first and then prints it: `15`.
            result[key] = (plain_text(value), line)
        else:
            result[key] = (value, line)
    return result


_ARTICLE = {"integer": "an", "float": "a", "boolean": "a", "null": "a", "other": "an"}


def _is_plain(node) -> bool:
    # (style None from the pure loader, '' from libyaml)
    return getattr(node, "style", "x") in (None, "") and isinstance(node.value, str)


def _plain_kind(source: str, node) -> str:
    """v5's kind for a scalar node without a tag of the YAML's own (a local `!x` is as
    none): `string` unless plain (go_scalars)."""
    if _is_plain(node) and (node.tag.startswith("!") or not explicit_tag(source, node)):
        return plain_kind(node.value)
    return "string"


def _refused_keys(keys, report: Report) -> None:
    """Findings for the keys v5's YAML refuses to collect (yaml_keys)."""
    if keys.merged_list is not None:
        report.add("malformed_frontmatter", "YAML error: v5 merges one mapping per merge key "
                   "('<<'), not a list of them; write one '<<' per mapping or the keys "
                   "themselves", keys.merged_list.start_mark.line + 2)
        return
    node, key, _ = keys.twice
    report.add("malformed_frontmatter", f"YAML error: duplicate key {key!r}: this mapping "
               "gets it twice, once or both times through a merge key ('<<'); v5 refuses a "
               "key given twice, even through a merge: keep one of them",
               node.start_mark.line + 2)


def _as_text(source: str, value, node) -> str | None:
    """A name as v5 takes it from a scalar (FORMAT.md 4.1): a quoted string as it is, a
    plain one as v5's YAML reads it (go_scalars: `0x10` is 16, `1.50` is 1.5, `yes` and
    dates as written, a null list item empty); None for a list, a mapping or other data.
    (A non-string `output` is cfs's malformed_frontmatter instead, X4.)"""
    if isinstance(value, bytes):
        # `!!binary`: v5's YAML decodes it and the bytes become the string.
        return value.decode("utf-8", "surrogateescape")
    if (value is None or isinstance(value, datetime.date)) and explicit_tag(source, node):
        # `!!null x` is an empty name; `!!timestamp`: v5's YAML cannot put a time into a
        # string
        return "" if value is None else None
    if getattr(node, "style", "x") in (None, "") and isinstance(node.value, str):
        # Plain (style None, or '' from libyaml): typed by the text alone, and v5's YAML
        # (1.2) types other texts than PyYAML's 1.1 does (`12:30`, `0o17`, `1.5e3`), so PyYAML's value is not used.
        return plain_text(node.value)
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | datetime.date):
        return "" if value is None else node.value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return None


def _past_tabs(yaml, source: str, refused):
    """_load with libyaml when the pure loader ``refused`` a tab that v5's YAML takes, else
    raise ``refused``. goccy refuses a tab only in a line's indentation (yaml_errors._tab);
    between and after tokens a tab separates, as libyaml (YAML 1.2 here) reads it too."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None or getattr(refused, "problem", None) != _TAB_REFUSED \
            or _INDENTING_TAB.search(source) or may_nest_deep(source):
        raise refused
    try:
        return _load(yaml, c_loader, source)
    except yaml.YAMLError:
        raise refused from None


def _unknown_keys(root, report: Report) -> None:
    """Warn about keys v5 ignores: a misspelt `output` would silently make no artifact."""
    for key_node, _ in root.value:
        # Only scalars get here: a list or mapping as a key is already a YAML error.
        if key_node.value not in FRONTMATTER_KEYS:
            key = key_node.value
            close = difflib.get_close_matches(key.lower(), FRONTMATTER_KEYS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else \
                "the keys are depends_on, input and output"
            if key.startswith("\ufeff"):
                hint += " It starts with a byte order mark (U+FEFF), which v5 keeps as " \
                    "part of the key: remove it."
            report.add("frontmatter_key", f"unknown frontmatter key {key!r}: {hint} (an unknown "
                       "key is ignored)", key_node.start_mark.line + 2, WARNING)


def _duplicate_key(root, yaml):
    """(key, earlier key) for the first key written twice in one mapping, else None.

    PyYAML keeps the last value silently; for v5 a repeated key is malformed YAML. Keys
    are compared by their text, as v5's YAML does: `1` and "1" are one key written twice.
    """
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue  # an alias: the same node again (possibly inside itself)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    earlier = keys.setdefault(key.value, key)
                    if earlier is not key:
                        return key, earlier
                stack += (key, value)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return None
