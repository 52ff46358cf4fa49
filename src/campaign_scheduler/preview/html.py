"""The preview as one self-contained HTML page.

Everything shown comes from drafts and is text: every piece goes through :func:`html.escape`,
nothing from a draft is ever markup, an attribute name, a style or a link target. The page has
no links and no scripts at all; images are embedded as ``data:`` URIs, and a Content Security
Policy forbids every other source, so opening the page makes no request.
"""

from __future__ import annotations

from html import escape

import regex

from campaign_scheduler.preview.build import ImageView, NetworkView, Preview, TextPart
from campaign_scheduler.preview.words import Words

#: Colours the browser tests look for; used nowhere else on the page.
FOLD_BACKGROUND = "#FCE4EC"
CARD_WIDTH = 520

_URL = regex.compile(r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")

_CSS = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; padding: 24px; background: #EEF1F4; color: #1B1F24;
  font: 15px/1.45 system-ui, "DejaVu Sans", sans-serif; }}
header {{ max-width: {CARD_WIDTH}px; margin: 0 0 20px; }}
h1 {{ font-size: 20px; margin: 0 0 6px; }}
header p {{ margin: 2px 0; color: #4A5560; }}
section.network {{ width: {CARD_WIDTH}px; background: #FFFFFF; border: 1px solid #D5DBE1;
  border-radius: 10px; padding: 14px 16px; margin: 0 0 22px; }}
section.network h2 {{ font-size: 16px; margin: 0 0 2px; }}
.account {{ color: #4A5560; font-size: 13px; margin: 0 0 8px; }}
.count {{ font-size: 13px; color: #4A5560; margin: 0 0 8px; }}
.problem {{ color: #A40E26; font-size: 13px; margin: 4px 0; }}
.note {{ color: #4A5560; font-size: 13px; margin: 4px 0; }}
article.part {{ border-top: 1px solid #E3E7EB; padding: 8px 0; }}
article.part:first-of-type {{ border-top: 0; }}
.part-number {{ font-size: 12px; color: #4A5560; }}
p.text {{ white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }}
.link {{ color: #0B57D0; }}
.plain-link {{ color: inherit; }}
.fold {{ background: {FOLD_BACKGROUND}; color: #5F2137; padding: 0 4px; border-radius: 3px;
  white-space: nowrap; }}
figure {{ margin: 8px 0 0; }}
.frame {{ width: 100%; overflow: hidden; border-radius: 6px; background: #D5DBE1; }}
.frame img {{ display: block; width: 100%; height: 100%; object-fit: cover; }}
.frame.natural img {{ height: auto; }}
.card {{ margin: 8px 0 0; border: 1px solid #D5DBE1; border-radius: 8px; overflow: hidden; }}
.card .frame {{ border-radius: 0; }}
.card-host, .card-title, .card-description {{ padding: 0 10px; }}
.card-host {{ font-size: 12px; color: #4A5560; padding-top: 6px; }}
.card-title {{ font-weight: 600; }}
.card-description {{ font-size: 13px; color: #4A5560; padding-bottom: 8px; }}
figcaption {{ font-size: 12px; color: #4A5560; margin-top: 3px; }}
footer {{ max-width: {CARD_WIDTH}px; font-size: 12px; color: #4A5560; }}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _text_html(text: str, clickable: bool) -> str:
    """Escaped text; addresses are marked (as text, never as links)."""
    pieces = []
    position = 0
    css = "link" if clickable else "plain-link"
    for match in _URL.finditer(text):
        pieces.append(_e(text[position : match.start()]))
        pieces.append(f'<span class="{css}">{_e(match.group(0))}</span>')
        position = match.end()
    pieces.append(_e(text[position:]))
    return "".join(pieces)


def _part(part: TextPart, view: NetworkView, w: Words) -> str:
    lines = ['<article class="part">']
    if part.of > 1:
        lines.append(
            f'<div class="part-number">{_e(w("part", n=part.number, total=part.of))}</div>'
        )
    body = _text_html(part.visible, view.links_clickable)
    if part.folded:
        body += f' <span class="fold">{_e(w("fold"))}</span>'
    lines.append(f'<p class="text">{body}</p>')
    if part.folded:
        lines.append(f'<p class="note">{_e(w("folded", shown=part.shown, total=part.total))}</p>')
    lines.append("</article>")
    return "\n".join(lines)


def _ratio_text(ratio: tuple[int, int]) -> str:
    width, height = ratio
    return f"{width / height:.2f}:1".replace(".00:", ":") if height == 100 else f"{width}:{height}"


def _image(image: ImageView, ratio: tuple[int, int] | None, w: Words) -> str:
    if image.data_uri is None:
        key = "media_missing" if image.missing else "media_unshown"
        return f'<p class="problem">{_e(w(key, name=image.name))}</p>'
    alt = image.alt or ""
    if ratio is None:
        frame = '<div class="frame natural">'
        crop = w("uncropped")
    else:
        frame = f'<div class="frame" style="aspect-ratio: {ratio[0]} / {ratio[1]}">'
        crop = w("crop", ratio=_ratio_text(ratio))
    alt_line = f"{w('alt')}: {alt}" if alt else w("no_alt")
    return (
        f'<figure data-ratio="{_e(crop)}">{frame}<img src="{_e(image.data_uri)}" alt="{_e(alt)}">'
        f"</div><figcaption>{_e(crop)} · {_e(alt_line)}</figcaption></figure>"
    )


def _card(view: NetworkView, w: Words) -> str:
    card = view.card
    if card is None:
        if view.card_link is None:
            return ""
        if view.card_error is not None:
            note = w("card_failed", url=view.card_link, reason=w.said(view.card_error or ""))
        else:
            note = w("card_missing", url=view.card_link)
        return f'<p class="note card-note">{_e(note)}</p>'
    lines = ['<div class="card">']
    if card.image_data_uri is not None:
        lines.append(
            f'<div class="frame" style="aspect-ratio: {card.ratio[0]} / {card.ratio[1]}">'
            f'<img src="{_e(card.image_data_uri)}" alt=""></div>'
        )
    lines.append(f'<div class="card-host">{_e(card.host)}</div>')
    lines.append(f'<div class="card-title">{_e(card.title)}</div>')
    if card.description:
        lines.append(f'<div class="card-description">{_e(card.description)}</div>')
    lines.append("</div>")
    return "\n".join(lines)


def _network(view: NetworkView, w: Words) -> str:
    lines = [f'<section class="network" data-channel="{_e(view.channel)}">']
    lines.append(f"<h2>{_e(view.title)}</h2>")
    lines.append(f'<p class="account">{_e(w("account"))}: {_e(view.account)}</p>')
    if view.limit is None:
        count = w("count_nolimit", count=view.count, unit=w.unit(view.unit))
    else:
        count = w("count", count=view.count, limit=view.limit, unit=w.unit(view.unit))
    lines.append(f'<p class="count">{_e(count)}</p>')
    for issue in view.too_long:
        lines.append(f'<p class="problem">{_e(w("too_long", message=issue))}</p>')
    if view.split_error:
        lines.append(f'<p class="problem">{_e(w("split_failed", message=view.split_error))}</p>')
    if len(view.parts) > 1:
        lines.append(f'<p class="note">{_e(w("thread", total=len(view.parts)))}</p>')
    if not view.links_clickable and _URL.search(view.text):
        lines.append(f'<p class="note">{_e(w("links_plain"))}</p>')
    for index, part in enumerate(view.parts):
        lines.append(_part(part, view, w))
        if index == 0:  # images go with the first post of a thread
            lines.extend(_image(image, view.image_ratio, w) for image in view.images)
            lines.append(_card(view, w))
    lines.append("</section>")
    return "\n".join(lines)


def render_preview(preview: Preview) -> str:
    """The whole page for ``preview``, labelled in the post's language (German or English)."""
    w = Words(preview.language)
    title = f"{w('title')}: {preview.key}"
    due = preview.due if preview.due is not None else w("no_time")
    body = [_network(view, w) for view in preview.networks] or [
        f'<p class="problem">{_e(w("no_accounts"))}</p>'
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{w.code}">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{_e(title)}</h1>",
            f"<p>{_e(w('sender'))}: {_e(preview.sender)}</p>",
            f"<p>{_e(w('due'))}: {_e(due)}</p>",
            "</header>",
            "<main>",
            *body,
            "</main>",
            f"<footer>{_e(w('footnote'))}</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )
