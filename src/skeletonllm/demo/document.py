"""The demo's report, written once as blocks and rendered twice: ``report.md`` and ``report.html``.

    doc = Document("SkeletonLLM demo")
    doc.heading("Recognition"); doc.text("..."); doc.table(["a", "b"], [[1, 2]]); doc.image("x.gif", "caption")
    doc.write(out_dir)      # report.md + report.html, atomically

Images are referenced by paths relative to the report, so the directory can be moved or
served as it is. The HTML is self-contained apart from those images (inline CSS, no scripts).
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..atomic import atomic_write_text


@dataclass
class Block:
    kind: str                       # "heading", "text", "table", "image", "images", "code"
    data: dict = field(default_factory=dict)


class Document:
    """An ordered list of blocks with a title."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[Block] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", {"text": text, "level": level}))

    def text(self, text: str) -> None:
        """A paragraph; ``**bold**`` and `` `code` `` are rendered in both formats."""
        self.blocks.append(Block("text", {"text": text}))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(Block("bullets", {"items": list(items)}))

    def table(self, header: Sequence[str], rows: Sequence[Sequence], caption: str | None = None) -> None:
        self.blocks.append(Block("table", {"header": [str(h) for h in header],
                                           "rows": [[_cell(c) for c in r] for r in rows], "caption": caption}))

    def image(self, path: str, caption: str) -> None:
        self.images([(path, caption)])

    def images(self, items: Sequence[tuple[str, str]]) -> None:
        """Several images side by side (one row in HTML, one line each in Markdown)."""
        self.blocks.append(Block("images", {"items": list(items)}))

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", {"text": text}))

    # -- rendering ------------------------------------------------------------------------
    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                out += ["#" * d["level"] + " " + d["text"], ""]
            elif b.kind == "text":
                out += [d["text"], ""]
            elif b.kind == "bullets":
                out += [f"- {i}" for i in d["items"]] + [""]
            elif b.kind == "table":
                if d["caption"]:
                    out += [f"*{d['caption']}*", ""]
                out += ["| " + " | ".join(d["header"]) + " |", "|" + "|".join("---" for _ in d["header"]) + "|"]
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in d["rows"]] + [""]
            elif b.kind == "images":
                for path, caption in d["items"]:
                    out += [f"![{caption}]({path})", f"*{caption}*", ""]
            elif b.kind == "code":
                out += ["```", d["text"], "```", ""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                lv = min(6, max(2, d["level"]))
                body.append(f"<h{lv}>{_inline(d['text'])}</h{lv}>")
            elif b.kind == "text":
                body.append(f"<p>{_inline(d['text'])}</p>")
            elif b.kind == "bullets":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in d["items"]) + "</ul>")
            elif b.kind == "table":
                cap = f"<caption>{_inline(d['caption'])}</caption>" if d["caption"] else ""
                head = "".join(f"<th>{_inline(h)}</th>" for h in d["header"])
                rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in d["rows"])
                body.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif b.kind == "images":
                figs = "".join(f'<figure><img src="{html.escape(p, quote=True)}" alt="{html.escape(c, quote=True)}">'
                               f"<figcaption>{_inline(c)}</figcaption></figure>" for p, c in d["items"])
                body.append(f'<div class="row">{figs}</div>')
            elif b.kind == "code":
                body.append(f"<pre>{html.escape(d['text'])}</pre>")
        return _PAGE.format(title=html.escape(self.title), body="\n".join(body))

    def write(self, directory: str | Path, stem: str = "report") -> tuple[Path, Path]:
        directory = Path(directory)
        md, page = directory / f"{stem}.md", directory / f"{stem}.html"
        atomic_write_text(md, self.to_markdown())
        atomic_write_text(page, self.to_html())
        return md, page


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escape, then render ``**bold**`` and `` `code` `` (the only inline Markdown the report uses)."""
    out = html.escape(text)
    out = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    return _BOLD.sub(lambda m: f"<b>{m.group(1)}</b>", out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.8em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
th {{ background: #f2f2f2; }}
caption {{ caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3em; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0.5em 0; }}
figure img {{ max-width: 100%; image-rendering: pixelated; background: #000; }}
figcaption {{ font-size: 0.85em; color: #555; max-width: 460px; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
</style></head>
<body>
{body}
</body></html>
"""


def _pct(x: float | None) -> str:
    """A fraction as a percentage for a table cell or a sentence (a dash when it was not measured)."""
    return "–" if x is None else f"{100 * x:.1f} %"


def ranking_name(result: dict) -> str:
    """How a recognition result ranked its candidates: ``"likelihood ranking"``, with
    ``", calibrated"`` when it was calibrated on reference clips (:mod:`skeletonllm.eval.calibration`)."""
    decoding = result.get("settings", {}).get("decoding", "likelihood ranking")
    return "likelihood ranking, calibrated" if "calibrated" in decoding else "likelihood ranking"


#: The recognition results of an arm's evaluation a table lists, and what each is.
RANKINGS = (("unseen_score", "unseen classes"), ("unseen_score_plain", "unseen classes, plain likelihood ranking"),
            ("unseen_generate", "unseen classes, greedy decoding (paper protocol)"),
            ("seen_score", "held-out clips of seen classes"),
            ("seen_score_plain", "held-out clips of seen classes, plain likelihood ranking"))


def ranking_label(key: str, result: dict) -> str:
    """The table label of ``result`` stored under ``key`` (one of :data:`RANKINGS`)."""
    what = dict(RANKINGS)[key]
    return f"{what}, {ranking_name(result)}" if key in ("unseen_score", "seen_score") else what


__all__ = ["Block", "Document", "RANKINGS", "ranking_label", "ranking_name"]
