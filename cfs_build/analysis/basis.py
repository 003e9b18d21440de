"""The basis of a snapshot (incremental.py) as stored: each node's summary kept marshalled
on its own and decoded when asked for, and the changes made to a stored basis since."""
from __future__ import annotations

import marshal
from collections.abc import Mapping

# Changes to a basis: key -> (entries set, entries removed) of that key's dict.
PATCH_LIMIT = 2000


def apply_patch(value: dict, patch: dict) -> dict:
    out = dict(value)
    for key, (updates, removed) in patch.items():
        out[key] = updated(out[key], updates, removed)
    return out


def updated(table: Mapping, updates: dict, removed=()) -> Mapping:
    """A copy of the basis table ``table`` with ``updates`` set and ``removed`` gone."""
    if isinstance(table, NodeRows):
        return table.updated(updates, removed)
    out = dict(table)
    for name in removed:
        out.pop(name, None)
    out.update(updates)
    return out


class Decoded(Mapping):
    """Name -> value, each decoded from its stored form (``decode(name, stored)``) when
    first asked for and kept: an edit reaches a few of ten thousand. Membership, length
    and iteration never decode."""

    def __init__(self, raw: Mapping, decode, made: dict | None = None):
        self._raw, self._decode = raw, decode
        self._made = {} if made is None else made

    def __getitem__(self, name: str):
        value = self._made.get(name)
        if value is None:
            value = self._made[name] = self._decode(name, self._raw[name])
        return value

    def __contains__(self, name) -> bool:
        return name in self._raw

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _unmarshal(name: str, stored: bytes) -> tuple:
    return marshal.loads(stored)


class NodeRows(Decoded):
    """Node -> its summary (a tuple, see incremental.py), each kept marshalled on its own
    and decoded when first asked for."""

    def __init__(self, raw: dict[str, bytes], made: dict[str, tuple] | None = None):
        super().__init__(raw, _unmarshal, made)

    def updated(self, updates: dict[str, tuple], removed=()) -> NodeRows:
        raw, made = dict(self._raw), dict(self._made)
        for name in removed:
            raw.pop(name, None)
            made.pop(name, None)
        for name, row in updates.items():
            raw[name] = marshal.dumps(row)
            made[name] = row
        return NodeRows(raw, made)

    def encoded(self) -> dict[str, bytes]:
        return self._raw


def encode_basis(basis: dict) -> bytes:
    """The basis as stored: each node's summary marshalled on its own (NodeRows)."""
    infos = basis["infos"]
    rows = (infos.encoded() if isinstance(infos, NodeRows)
            else {name: marshal.dumps(row) for name, row in infos.items()})
    return marshal.dumps({**basis, "infos": rows})


def decode_basis(data) -> dict:
    basis = marshal.loads(data)
    rows = basis["infos"]
    if type(basis) is not dict or type(rows) is not dict:
        raise TypeError("not a basis")
    basis["infos"] = NodeRows(rows)
    return basis


def merge_patches(earlier: dict, later: dict) -> dict:
    out = {}
    for key in {*earlier, *later}:
        updates, removed = earlier.get(key, ({}, []))
        more, gone = later.get(key, ({}, []))
        dropped = set(gone)
        updates = {name: v for name, v in updates.items() if name not in dropped}
        updates.update(more)
        removed = sorted((set(removed) | set(gone)) - set(more))
        out[key] = (updates, removed)
    return out
