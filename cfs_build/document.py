"""The document handed to a generator (FORMAT.md section 9), first-generation form."""
from __future__ import annotations

from .chain import AGENT, INPUT, Chain, Resolver, safe_relpath
from .errors import CfsError


def _block(tag: str, text: str, attrs: str = "") -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return f"<{tag}{attrs}>\n{text}</{tag}>\n"


def render_document(resolver: Resolver, chain: Chain, *, existing: bool = True) -> str:
    """The generator's whole view of one leaf: constraints, instructions, input.

    With ``existing`` the current artifact file (when there is one) is included so a
    regeneration can keep unchanged parts stable.
    """
    if chain.hash is None and chain.blocked:
        raise CfsError(f"cannot assemble the chain of {chain.node}: " + "; ".join(chain.blocked),
                       exit_code=2)
    if chain.waiting:
        raise CfsError(f"cannot assemble the chain of {chain.node}: " + "; ".join(
            f"waiting for {w}" for w in chain.waiting), exit_code=1)
    tree = resolver.tree
    info = tree.nodes[chain.node]
    parts = ["<chain>\n"]
    if existing and info.output is not None:
        rel = safe_relpath(info.output)
        current = resolver.file_text(rel) if rel else None
        if current is not None:
            parts.append(_block("existing_artifact", current))
    entries = [p for p in chain.positions if p.role not in (AGENT, INPUT)]
    if entries:
        parts.append("<constraints>\n")
        for position in entries:
            parts.append(_block("entry", resolver.position_text(chain, position),
                                f' name="{position.label}"'))
        parts.append("</constraints>\n")
    if info.has_agent:
        parts.append(_block("instructions", tree.doc(chain.node).agent))
    if info.input is not None:
        inputs = [p for p in chain.positions if p.role == INPUT]
        parts.append(_block("input", resolver.position_text(chain, inputs[0]) if inputs else ""))
    parts.append("</chain>\n")
    return "".join(parts)
