"""How to install an optional part (an extra): the pip command that works for any install."""
from __future__ import annotations

import re


def install_command(extra: str) -> str:
    """``pip install '<requirement>'`` for the packages of cfs-build's ``extra``.

    Named by the packages themselves, as the installed metadata gives them: a clone
    installed with `pip install -e .` has no ``cfs-build[extra]`` on a package index
    to ask for.
    """
    try:
        from importlib.metadata import PackageNotFoundError, requires
        wanted = requires("cfs-build") or []
    except (ImportError, PackageNotFoundError):
        wanted = []
    marker = re.compile(r"""\s*;\s*extra\s*==\s*["']%s["']\s*$""" % re.escape(extra))
    found = [marker.split(req)[0].strip() for req in wanted if marker.search(req)]
    if not found:  # running from a source tree that was never installed
        found = _declared(extra) or [extra]
    return "pip install " + " ".join(f"'{req}'" for req in found)


def _declared(extra: str) -> list[str]:
    """The requirements of ``extra`` as the source tree's pyproject.toml declares them."""
    import tomllib
    from pathlib import Path

    try:
        text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8")
        extras = tomllib.loads(text)["project"]["optional-dependencies"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return []
    wanted = extras.get(extra) if isinstance(extras, dict) else None
    return [req for req in wanted if isinstance(req, str)] if isinstance(wanted, list) else []
