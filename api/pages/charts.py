"""Tiny server-rendered SVG charts: no script, no library, attributes only (strict CSP)."""

from __future__ import annotations

from collections.abc import Sequence

from api.pages.layout import e

INK = "#1b2a2f"
GRID = "#c9d3d6"
COLOURS = ("#0b5c63", "#c25e00", "#5b3fa8", "#2f7d32")


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 560,
    height: int = 240,
    colour: str = COLOURS[0],
) -> str:
    """Vertical bars with their values on top; ``title`` is the accessible name."""
    left, bottom, top = 36, 36, 24
    plot_h = height - bottom - top
    top_value = max((v for _, v in bars), default=0.0) or 1.0
    step = (width - left - 8) / max(len(bars), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{e(title)}</title>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" '
        f'stroke="{GRID}" stroke-width="2"/>',
    ]
    for i, (label, value) in enumerate(bars):
        bar_h = plot_h * value / top_value
        x = left + i * step + step * 0.15
        y = height - bottom - bar_h
        shown = f"{value:g}{unit}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{bar_h:.1f}" '
            f'rx="3" fill="{colour}"><title>{e(label)}: {e(shown)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
            f'font-size="13" fill="{INK}">{e(shown) if value else ""}</text>'
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 18}" text-anchor="middle" '
            f'font-size="12" fill="{INK}">{e(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def share_bar(shares: Sequence[tuple[str, float]], *, title: str, width: int = 560) -> str:
    """One horizontal bar split by share (read methods), with a legend underneath."""
    total = sum(v for _, v in shares) or 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {60 + 24 * len(shares)}" role="img" '
        f'aria-label="{e(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{e(title)}</title>'
    ]
    x = 0.0
    for i, (label, value) in enumerate(shares):
        w = (width * value / total) if value else 0.0
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<rect x="{x:.1f}" y="8" width="{w:.1f}" height="34" fill="{colour}"/>')
        x += w
        legend_x, legend_y = 8, 56 + 24 * i  # one line each: labels are long in two languages
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y}" width="16" height="16" fill="{colour}"/>'
        )
        percent = round(100 * value / total)
        parts.append(
            f'<text x="{legend_x + 24}" y="{legend_y + 14}" font-size="16" fill="{INK}">'
            f"{e(label)} {percent}% ({value:g})</text>"
        )
    if not any(v for _, v in shares):
        parts.append(f'<rect x="0" y="8" width="{width}" height="34" fill="{GRID}"/>')
    parts.append("</svg>")
    return "".join(parts)
