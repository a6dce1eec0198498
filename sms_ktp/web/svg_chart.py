"""Bar charts drawn on the server as inline SVG: no JavaScript, no library, nothing fetched, a few
kilobytes on a slow connection. The output depends only on the input (same data, same bytes), so
pages can be compared and cached.

Accessible: the SVG is an image with a title and a description that states the figures a
sighted reader takes from the picture (total, highest day), and every bar carries its own
`<title>` with the day and the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
# Room around the plot for the axis labels, in SVG units.
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 24
BAR_SHARE = 0.7  # of each day's width; the rest is the gap between bars


def day_label(day: date, *, year: bool = False) -> str:
    """"30 Nov" (or "30 Nov 2026"): Indonesian month abbreviations."""
    text = f"{day.day} {MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (at least 1): the top
    of the value axis, a round number people read at a glance."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros: stable and short."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _thousands(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def bar_chart(points: Sequence[tuple[date, int]], *, title: str, chart_id: str,
              width: int = 640, height: int = 180, label_every: int = 7,
              css_class: str = "") -> str:
    """An SVG bar chart of counts per day. Bar heights are proportional to the counts against a
    round axis maximum; the value axis shows 0, the half when it is whole, and the maximum; the
    day axis every `label_every`-th day counted back from the last (so the latest day is always
    named).
    `chart_id` makes the ids of the title and description unique on the page."""
    ident = escape(chart_id, quote=True)
    counts = [max(0, int(count)) for _, count in points]
    total, highest = sum(counts), max(counts, default=0)
    top = nice_ceiling(highest)
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    base = TOP + plot_height
    classes = escape(f"chart {css_class}".strip(), quote=True)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{classes}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(_describe(points, counts, total, highest))}</desc>',
    ]
    # A middle line only where it falls on a whole number (not at 2 of 5).
    for value in (0, top // 2, top) if top % 2 == 0 else (0, top):
        y = base - plot_height * value / top
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{_num(y)}" '
                     f'y2="{_num(y)}" stroke="#d9e0e7" stroke-width="1"/>')
        parts.append(f'<text class="axis" x="{LEFT - 4}" y="{_num(y + 4)}" '
                     f'text-anchor="end">{_thousands(value)}</text>')
    if not points:
        parts.append(f'<text class="empty" x="{_num(LEFT + plot_width / 2)}" '
                     f'y="{_num(TOP + plot_height / 2)}" text-anchor="middle">Belum ada data'
                     '</text>')
    slot = plot_width / max(1, len(points))
    for index, ((day, _), count) in enumerate(zip(points, counts, strict=True)):
        bar_height = plot_height * count / top
        x = LEFT + slot * index + slot * (1 - BAR_SHARE) / 2
        parts.append(
            f'<rect class="bar" x="{_num(x)}" y="{_num(base - bar_height)}" '
            f'width="{_num(slot * BAR_SHARE)}" height="{_num(bar_height)}" fill="#0b5d8f">'
            f'<title>{escape(day_label(day, year=True))}: {_thousands(count)}</title></rect>')
        if (len(points) - 1 - index) % max(1, label_every) == 0:
            parts.append(f'<text class="axis" x="{_num(LEFT + slot * (index + 0.5))}" '
                         f'y="{height - 6}" text-anchor="middle">{escape(day_label(day))}</text>')
    parts.append(f'<line class="base" x1="{LEFT}" x2="{width - RIGHT}" y1="{base}" y2="{base}" '
                 'stroke="#5d6b7a" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)


def _describe(points: Sequence[tuple[date, int]], counts: Sequence[int], total: int,
              highest: int) -> str:
    """What the picture says, in words, for a screen reader."""
    if not points:
        return "Belum ada data."
    first, last = points[0][0], points[-1][0]
    text = (f"{len(points)} hari, {day_label(first, year=True)} sampai "
            f"{day_label(last, year=True)}: jumlah {_thousands(total)}")
    if highest:
        peak = points[counts.index(highest)][0]
        text += f", tertinggi {_thousands(highest)} pada {day_label(peak, year=True)}"
    return text + "."
