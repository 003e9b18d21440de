"""The document handed to a generator (FORMAT.md section 9), with dispositions when known."""
from __future__ import annotations


from ..errors import CfsError
from ..reading.files import UnreadableFile, as_json_text
from .cache import Cache, CachedChain
from .chain import AGENT, INPUT, BadReference, Chain, Resolver, chain_reference, order_dependencies
from ..reading.outputs import output_rel, place_problem

UNCHANGED, CHANGED, ADDED, REMOVED = "unchanged", "changed", "added", "removed"


def _block(tag: str, text: str, attrs: str = "") -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return f"<{tag}{attrs}>\n{text}</{tag}>\n"


def _attr(disposition: str | None) -> str:
    return f' disposition="{disposition}"' if disposition else ""


def existing_text(resolver: Resolver, output: str | None) -> str | None:
    """The output's normalized text when it can be read (cfs never reads an X8 output)."""
    rel = output_rel(output) if output else None
    if rel is None or place_problem(str(resolver.root), rel) is not None:
        return None
    try:
        return resolver.file_text(rel)
    except UnreadableFile:
        return None


def render_document(resolver: Resolver, chain: Chain, *, existing: bool = True,
                    cache: Cache | None = None, previous_hash: str | None = None) -> str:
    """The generator's whole view of one node.

    With ``existing`` the current artifact (when it can be read) is included. When
    ``cache`` holds the chain ``previous_hash`` that made that artifact, every entry
    says whether it is unchanged, changed or added since, and the old text of what
    changed or was removed comes first (FORMAT.md 9.2, 9.3).
    """
    if chain.blocked:
        raise CfsError(f"cannot assemble the chain of {chain.node}: " + "; ".join(chain.blocked),
                       exit_code=2)
    if chain.waiting:
        raise CfsError(f"cannot assemble the chain of {chain.node}: " + "; ".join(
            f"waiting for {w}" for w in chain.waiting), exit_code=1)
    tree = resolver.tree
    info = resolver.node_info(chain.node)
    current = existing_text(resolver, info.output) if existing else None
    previous = None
    if current is not None and cache is not None and previous_hash:
        previous = cache.load_chain(previous_hash)
    now = {p.label: p.content_hash for p in chain.positions}

    def disposition(label: str) -> str | None:
        if previous is None or label not in now:
            return None
        old = previous.hash_of(label)
        if old is None:
            return ADDED
        return UNCHANGED if old == now[label] else CHANGED

    agent_label = f"AGENT[{chain.node}]"
    input_label = _input_label(info.input)
    parts = ["<chain>\n"]
    if previous is not None:
        parts.append(_previous(cache, previous, now, _order(tree, info), agent_label,
                               input_label, info.input is not None))
    if current is not None:
        parts.append(_block("existing_artifact", current))
    parts.append("<constraints>\n")
    for position in chain.positions:
        if position.role not in (AGENT, INPUT):
            parts.append(_block("entry", resolver.position_text(chain, position),
                                f' name="{position.label}"{_attr(disposition(position.label))}'))
    parts.append("</constraints>\n")
    if info.has_agent:
        parts.append(_block("instructions", resolver.node_doc(chain.node).agent,
                            _attr(disposition(agent_label))))
    if info.input is not None:
        inputs = [p for p in chain.positions if p.role == INPUT]
        text = resolver.position_text(chain, inputs[0]) if inputs else ""
        parts.append(_block("input", text, _attr(disposition(input_label)) if inputs else ""))
    parts.append("</chain>\n")
    return "".join(parts)


def as_sent(document: str) -> str:
    """``document`` as it travels to a generator, as in v5's JSON answer (files.as_json_text):
    bytes of two texts are never side by side (a tag's line lies between), so each byte
    that is not UTF-8 is one U+FFFD of its own."""
    return as_json_text(document)


def _input_label(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return f"INPUT[{chain_reference(raw).label}]"
    except BadReference:
        return None


def _order(tree, info) -> list[str]:
    """Labels in chain order whatever their content: ancestors, imports, the target."""
    node = info.name
    names = []
    for raw in info.depends_on:
        try:
            names.append(chain_reference(raw))
        except BadReference:
            continue
    return [*tree.ancestors(node), *(n.label for n in order_dependencies(names)), node]


def _previous(cache: Cache, previous: CachedChain, now: dict[str, str], order: list[str],
              agent_label: str, input_label: str | None, has_input: bool) -> str:
    """The previous_* sections: old texts of what changed or was removed (FORMAT.md 9.3)."""
    # A label a damaged file repeats keeps its place and its last hash (as hash_of).
    cached: dict[str, str] = {}
    for label, content in previous.entries:
        cached[label] = content
    entries = []

    def old_entry(label: str) -> None:
        disposition = REMOVED if label not in now else CHANGED
        text = cache.content(cached[label])
        if text is not None:  # an old text that cannot be read is left out
            entries.append(_block("entry", text, f' name="{label}"{_attr(disposition)}'))

    for label in order:
        if label in cached and now.get(label) != cached[label]:
            old_entry(label)
    known = set(order)
    # What left the chain altogether (an import taken out), in the cached chain's order
    # (X2: v5's order varies from call to call).
    for label in cached:
        if not label.startswith(("AGENT[", "INPUT[")) and label not in now \
                and label not in known:
            old_entry(label)
    out = []
    if entries:
        out.append("<previous_constraints>\n" + "".join(entries) + "</previous_constraints>\n")
    special = [("instructions", agent_label)]
    if has_input:
        special.append(("input", input_label))
    else:
        special.append(("input", next((label for label in cached
                                       if label.startswith("INPUT[")), None)))
    for tag, label in special:
        if label is None or label not in cached or now.get(label) == cached[label]:
            continue
        text = cache.content(cached[label])
        if text is None:
            continue
        disposition = REMOVED if label not in now else CHANGED
        out.append(f"<previous_{tag}>\n" + _block(tag, text, _attr(disposition))
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
    return as_sent(document)
