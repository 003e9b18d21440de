"""The document handed to a generator (FORMAT.md section 9), with dispositions when known."""
from __future__ import annotations

from .cache import Cache, CachedChain
from .chain import AGENT, INPUT, Chain, Resolver, safe_relpath
from .errors import CfsError
from .files import UnreadableFile

UNCHANGED, CHANGED, ADDED, REMOVED = "unchanged", "changed", "added", "removed"


def _block(tag: str, text: str, attrs: str = "") -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return f"<{tag}{attrs}>\n{text}</{tag}>\n"


def _attr(disposition: str | None) -> str:
    return f' disposition="{disposition}"' if disposition else ""


def _compare(old: str | None, new: str | None) -> str:
    if old is None:
        return UNCHANGED if new is None else ADDED
    return UNCHANGED if old == new else CHANGED


def _special(cached: CachedChain, prefix: str) -> str | None:
    for label, content in cached.entries:
        if label.startswith(prefix):
            return content
    return None


def render_document(resolver: Resolver, chain: Chain, *, existing: bool = True,
                    cache: Cache | None = None, previous_hash: str | None = None) -> str:
    """The generator's whole view of one leaf.

    With ``existing`` the current artifact (when there is one) is included. When
    ``cache`` holds the chain ``previous_hash`` that made that artifact, every entry
    says whether it is unchanged, changed or added since, and the old text of what
    changed or was removed is shown first.
    """
    if chain.blocked:
        raise CfsError(f"cannot assemble the chain of {chain.node}: " + "; ".join(chain.blocked),
                       exit_code=2)
    if chain.waiting:
        raise CfsError(f"cannot assemble the chain of {chain.node}: " + "; ".join(
            f"waiting for {w}" for w in chain.waiting), exit_code=1)
    tree = resolver.tree
    info = tree.nodes[chain.node]
    current = None
    if existing and info.output is not None:
        rel = safe_relpath(info.output)
        try:
            current = resolver.file_text(rel) if rel else None
        except UnreadableFile as exc:
            raise CfsError(f"the existing file cannot be shown to the generator: {exc.reason}",
                           file=rel) from None
    previous = None
    if current is not None and cache is not None and previous_hash:
        previous = cache.load_chain(previous_hash)

    entries = [p for p in chain.positions if p.role not in (AGENT, INPUT)]
    agent = next((p.content_hash for p in chain.positions if p.role == AGENT), None)
    inputs = [p for p in chain.positions if p.role == INPUT]
    parts = ["<chain>\n"]
    if previous is not None:
        history = _previous(cache, previous, entries, agent, info.has_agent,
                            inputs[0].content_hash if inputs else None, info.input is not None)
        if history is None:
            previous = None  # old texts are gone from the cache: first-generation form
        else:
            parts.append(history)
    if current is not None:
        parts.append(_block("existing_artifact", current))
    if entries:
        parts.append("<constraints>\n")
        for position in entries:
            disposition = _compare(previous.hash_of(position.label), position.content_hash) \
                if previous else None
            parts.append(_block("entry", resolver.position_text(chain, position),
                                f' name="{position.label}"{_attr(disposition)}'))
        parts.append("</constraints>\n")
    if info.has_agent:
        disposition = _compare(_special(previous, "AGENT["), agent) if previous else None
        parts.append(_block("instructions", tree.doc(chain.node).agent, _attr(disposition)))
    if info.input is not None:
        text = resolver.position_text(chain, inputs[0]) if inputs else ""
        new = inputs[0].content_hash if inputs else None
        disposition = _compare(_special(previous, "INPUT["), new) if previous else None
        parts.append(_block("input", text, _attr(disposition)))
    parts.append("</chain>\n")
    return "".join(parts)


def _previous(cache: Cache, previous: CachedChain, entries, agent: str | None,
              has_agent: bool, input_hash: str | None, has_input: bool) -> str | None:
    """The previous_* sections, or None when an old text is missing from the cache."""
    now = {p.label: p.content_hash for p in entries}
    out = []
    constraints = []
    for label, content in previous.entries:
        if label.startswith(("AGENT[", "INPUT[")):
            continue
        if now.get(label) == content:
            continue
        old = cache.content(content)
        if old is None:
            return None
        disposition = CHANGED if label in now else REMOVED
        constraints.append(_block("entry", old, f' name="{label}"{_attr(disposition)}'))
    if constraints:
        out.append("<previous_constraints>\n" + "".join(constraints) + "</previous_constraints>\n")
    for prefix, tag, new, present in (("AGENT[", "instructions", agent, has_agent),
                                      ("INPUT[", "input", input_hash, has_input)):
        old_hash = _special(previous, prefix)
        if old_hash is None or old_hash == new:
            continue
        old = cache.content(old_hash)
        if old is None:
            return None
        # Still declared but now empty is a change: the current section says "changed" too.
        disposition = CHANGED if present else REMOVED
        out.append(f"<previous_{tag}>\n" + _block(tag, old, _attr(disposition))
                   + f"</previous_{tag}>\n")
    return "".join(out)


def generator_document(resolver: Resolver, cache: Cache, chain: Chain,
                       previous_hash: str | None, *, fresh: bool = False) -> str:
    """Exactly what a generation sends: the document, with history when the cache has it.

    ``previous_hash`` is the chain the manifest records for the current file. The
    chain is stored in the cache, so the next generation can say what changed.
    """
    document = render_document(resolver, chain, existing=not fresh, cache=cache,
                               previous_hash=previous_hash)
    cache.store(resolver, chain)
    return document
