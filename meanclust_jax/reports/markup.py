"""A tiny document model rendered both to Markdown and to standalone HTML (no extra dependency).

A document is a list of blocks: `Heading`, `Paragraph`, `Table`, `Figure`, `Bullets`. Inline
text may use ``**bold**`` and ```code```; everything else is escaped in HTML.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os
import re
from collections.abc import Sequence
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Heading:
    """A section heading of `level` 1–4."""

    text: str
    level: int = 2


@dataclasses.dataclass(frozen=True)
class Paragraph:
    """A paragraph of inline text."""

    text: str


@dataclasses.dataclass(frozen=True)
class Table:
    """A table: a header row and rows of cells (strings); an optional caption above it."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str | None = None


@dataclasses.dataclass(frozen=True)
class Figure:
    """An image (path relative to the document) with a caption."""

    path: str
    caption: str


@dataclasses.dataclass(frozen=True)
class Bullets:
    """A bulleted list of inline texts."""

    items: Sequence[str]


Block = Heading | Paragraph | Table | Figure | Bullets


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Paragraph):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"* {item}" for item in b.items))
        elif isinstance(b, Figure):
            out.append(f"![{_md_cell(b.caption)}]({b.path})\n\n*{b.caption}*")
        elif isinstance(b, Table):
            lines = []
            if b.caption:
                lines += [b.caption, ""]
            lines.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            lines.append("|" + "|".join("---" for _ in b.header) + "|")
            for row in b.rows:
                if len(row) != len(b.header):
                    raise ValueError(f"table row {row!r} has {len(row)} cells for {len(b.header)} columns")
                lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            out.append("\n".join(lines))
        else:
            raise TypeError(f"unknown block {b!r}")
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    s = html.escape(str(text), quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", s)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
figure { margin: 1rem 0; } figure img { max-width: 100%; }
figcaption { font-style: italic; font-size: 0.9rem; }
code { background: #f5f5f5; padding: 0 0.2rem; }
"""


_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
         ".svg": "image/svg+xml", ".webp": "image/webp"}


def _image_src(path: str, embed_from: Path | None) -> str:
    """``src`` of an image: a base64 ``data:`` URI of the file under ``embed_from`` when there is
    one (so the page needs no other file), else the relative path."""
    if embed_from is not None:
        file = Path(embed_from) / path
        mime = _MIME.get(file.suffix.lower())
        if mime is not None and file.is_file():
            return f"data:{mime};base64," + base64.b64encode(file.read_bytes()).decode("ascii")
    return html.escape(path)


def to_html(blocks: Sequence[Block], title: str, *, embed_from: str | os.PathLike[str] | None = None) -> str:
    """Render blocks as one standalone HTML page.

    **Arguments:**

    - `blocks`: the document.
    - `title`: the page title.
    - `embed_from`: the folder the figures' relative paths start from. When given, every figure
      found there (PNG, JPEG, GIF, SVG, WebP) is embedded as a base64 ``data:`` URI, so the page
      survives being moved or mailed on its own; a figure not found stays a relative link.
      ``None`` (default): figures are linked by relative path.

    **Returns:**

    The HTML text.
    """
    base = Path(embed_from) if embed_from is not None else None
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Figure):
            body.append(f'<figure><img src="{_image_src(b.path, base)}" alt="{html.escape(b.caption)}">'
                        f"<figcaption>{_inline_html(b.caption)}</figcaption></figure>")
        elif isinstance(b, Table):
            cap = f"<p>{_inline_html(b.caption)}</p>" if b.caption else ""
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"{cap}<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            raise TypeError(f"unknown block {b!r}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


__all__ = ["Block", "Bullets", "Figure", "Heading", "Paragraph", "Table", "to_html", "to_markdown"]
