"""Small self-contained SVG charts for the run report: no plotting library, no scripts, nothing fetched.

Each function returns one ``<svg>`` element as text, with an ``id`` so that a report (and its browser test) can
find it, a ``<title>`` for screen readers, and numbers written with few digits so the files stay small.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
FONT = "font-family='system-ui, sans-serif' font-size='11'"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _f(v: float) -> str:
    return f"{v:.1f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], start
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 12))
        v += step
    return ticks


def _fmt_tick(v: float) -> str:
    return f"{v:.4g}"


def _frame(fig_id: str, title: str, width: int, height: int, body: list[str]) -> str:
    return (f"<svg id='{_esc(fig_id)}' class='figure' xmlns='http://www.w3.org/2000/svg' width='{width}' "
            f"height='{height}' viewBox='0 0 {width} {height}' role='img' {FONT}><title>{_esc(title)}</title>"
            f"<rect width='{width}' height='{height}' fill='white'/>" + "".join(body) + "</svg>")


class _Axes:
    """Linear x/y mapping into a plot area with margins, and the axes drawn with ticks and labels."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float], width: int, height: int, pad: float = 0.06,
                 left: int = 58, right: int = 16, top: int = 28, bottom: int = 42) -> None:
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        dx, dy = (x1 - x0) or abs(x0) or 1.0, (y1 - y0) or abs(y0) or 1.0
        self.x0, self.x1 = x0 - pad * dx, x1 + pad * dx
        self.y0, self.y1 = y0 - pad * dy, y1 + pad * dy
        self.left, self.right, self.top, self.bottom = left, width - right, top, height - bottom
        self.width, self.height = width, height

    def x(self, v: float) -> float:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, v: float) -> float:
        return self.bottom - (v - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)

    def draw(self, xlabel: str, ylabel: str) -> list[str]:
        out = [f"<rect x='{self.left}' y='{self.top}' width='{self.right - self.left}' "
               f"height='{self.bottom - self.top}' fill='none' stroke='#999'/>"]
        for t in nice_ticks(self.x0, self.x1):
            x = self.x(t)
            out.append(f"<line x1='{_f(x)}' y1='{self.bottom}' x2='{_f(x)}' y2='{self.bottom + 4}' stroke='#555'/>"
                       f"<text x='{_f(x)}' y='{self.bottom + 15}' text-anchor='middle'>{_fmt_tick(t)}</text>")
        for t in nice_ticks(self.y0, self.y1):
            y = self.y(t)
            out.append(f"<line x1='{self.left - 4}' y1='{_f(y)}' x2='{self.left}' y2='{_f(y)}' stroke='#555'/>"
                       f"<line x1='{self.left}' y1='{_f(y)}' x2='{self.right}' y2='{_f(y)}' stroke='#eee'/>"
                       f"<text x='{self.left - 6}' y='{_f(y + 4)}' text-anchor='end'>{_fmt_tick(t)}</text>")
        out.append(f"<text x='{(self.left + self.right) / 2:.0f}' y='{self.height - 8}' "
                   f"text-anchor='middle'>{_esc(xlabel)}</text>")
        out.append(f"<text transform='translate(14 {(self.top + self.bottom) / 2:.0f}) rotate(-90)' "
                   f"text-anchor='middle'>{_esc(ylabel)}</text>")
        return out


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both (lower x, higher y), by increasing x."""
    front, best = [], -math.inf
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def scatter(fig_id: str, title: str, series: Sequence[dict], xlabel: str, ylabel: str, width: int = 560,
            height: int = 340, front: bool = False, diagonal: bool = False, vline: float | None = None,
            vline_label: str = "") -> str:
    """Series ``{"label", "points": [(x, y), ...], "names": [...] (optional), "size": r, "marker": "o"|"*"}``;
    ``front``: draw the Pareto front of all points (lower x, higher y); ``diagonal``: y = x; ``vline``: a
    vertical rule (a budget)."""
    pts = [p for s in series for p in s["points"]]
    if not pts:
        return _frame(fig_id, title, width, 60, [f"<text x='10' y='35'>{_esc(title)}: no points</text>"])
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if vline is not None:
        xs.append(vline)
    if diagonal:
        lo, hi = min(xs + ys), max(xs + ys)
        xs, ys = [*xs, lo, hi], [*ys, lo, hi]
    ax = _Axes(xs, ys, width, height)
    body = [f"<text x='{ax.left}' y='16' font-weight='bold'>{_esc(title)}</text>", *ax.draw(xlabel, ylabel)]
    if diagonal:
        lo, hi = max(ax.x0, ax.y0), min(ax.x1, ax.y1)
        body.append(f"<line x1='{_f(ax.x(lo))}' y1='{_f(ax.y(lo))}' x2='{_f(ax.x(hi))}' y2='{_f(ax.y(hi))}' "
                    "stroke='#888' stroke-dasharray='4 3'/>")
    if vline is not None:
        x = ax.x(vline)
        body.append(f"<line x1='{_f(x)}' y1='{ax.top}' x2='{_f(x)}' y2='{ax.bottom}' stroke='#d62728' "
                    f"stroke-dasharray='5 3'/><text x='{_f(x + 3)}' y='{ax.top + 11}' fill='#d62728'>"
                    f"{_esc(vline_label)}</text>")
    if front:
        line = pareto_front(pts)
        path = " ".join(f"{_f(ax.x(x))},{_f(ax.y(y))}" for x, y in line)
        body.append(f"<polyline class='pareto' points='{path}' fill='none' stroke='#555' stroke-width='1.5'/>")
    legend_y = ax.top + 4
    for i, s in enumerate(series):
        color = s.get("color", PALETTE[i % len(PALETTE)])
        r = s.get("size", 3)
        names = s.get("names") or [None] * len(s["points"])
        for (x, y), name in zip(s["points"], names):
            tip = f"<title>{_esc(name)}: {x:.4g}, {y:.4g}</title>" if name else ""
            if s.get("marker") == "*":
                body.append(f"<rect x='{_f(ax.x(x) - r)}' y='{_f(ax.y(y) - r)}' width='{2 * r}' height='{2 * r}' "
                            f"fill='{color}' stroke='black'>{tip}</rect>")
            else:
                body.append(f"<circle cx='{_f(ax.x(x))}' cy='{_f(ax.y(y))}' r='{r}' fill='{color}' "
                            f"fill-opacity='0.75'>{tip}</circle>")
            if s.get("annotate") and name:
                body.append(f"<text x='{_f(ax.x(x) + r + 2)}' y='{_f(ax.y(y) - r)}' font-size='9'>"
                            f"{_esc(name)}</text>")
        legend_y += 14
        body.append(f"<circle cx='{ax.right - 150}' cy='{legend_y - 4}' r='4' fill='{color}'/>"
                    f"<text x='{ax.right - 142}' y='{legend_y}'>{_esc(s['label'])}</text>")
    return _frame(fig_id, title, width, height, body)


def lines(fig_id: str, title: str, series: Sequence[dict], xlabel: str, ylabel: str, width: int = 560,
          height: int = 300) -> str:
    """Series ``{"label", "points": [(x, y), ...]}`` as polylines with markers."""
    pts = [p for s in series for p in s["points"]]
    if not pts:
        return _frame(fig_id, title, width, 60, [f"<text x='10' y='35'>{_esc(title)}: no data</text>"])
    ax = _Axes([p[0] for p in pts], [p[1] for p in pts], width, height)
    body = [f"<text x='{ax.left}' y='16' font-weight='bold'>{_esc(title)}</text>", *ax.draw(xlabel, ylabel)]
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{_f(ax.x(x))},{_f(ax.y(y))}" for x, y in s["points"])
        body.append(f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='1.8'/>")
        body += [f"<circle cx='{_f(ax.x(x))}' cy='{_f(ax.y(y))}' r='2.5' fill='{color}'/>" for x, y in s["points"]]
        body.append(f"<line x1='{ax.right - 150}' y1='{ax.top + 14 * i + 14}' x2='{ax.right - 136}' "
                    f"y2='{ax.top + 14 * i + 14}' stroke='{color}' stroke-width='2'/>"
                    f"<text x='{ax.right - 132}' y='{ax.top + 14 * i + 18}'>{_esc(s['label'])}</text>")
    return _frame(fig_id, title, width, height, body)


def hbars(fig_id: str, title: str, rows: Sequence[tuple[str, str, float]], xlabel: str, width: int = 760,
          shares: Sequence[float] | None = None) -> str:
    """One horizontal bar per row ``(label, detail, value)``, in order (an architecture block by block), labelled
    with its share in % (``shares``, or of the rows' sum)."""
    if not rows:
        return _frame(fig_id, title, width, 60, [f"<text x='10' y='35'>{_esc(title)}: no rows</text>"])
    bar_h, top, left, right = 16, 30, 300, 70
    height = top + bar_h * len(rows) + 34
    hi = max(max(v for _, _, v in rows), 1e-12)
    scale = (width - left - right) / hi
    total = sum(v for _, _, v in rows) or 1.0
    body = [f"<text x='8' y='16' font-weight='bold'>{_esc(title)}</text>"]
    for i, (label, detail, value) in enumerate(rows):
        y = top + i * bar_h
        w = max(value, 0.0) * scale
        body.append(f"<text x='8' y='{y + 12}'>{_esc(label)}</text>"
                    f"<text x='{left - 6}' y='{y + 12}' text-anchor='end' font-size='9' fill='#555'>"
                    f"{_esc(detail)}</text>"
                    f"<rect x='{left}' y='{y + 2}' width='{_f(w)}' height='{bar_h - 4}' fill='{PALETTE[0]}'>"
                    f"<title>{_esc(label)}: {value:.4g}</title></rect>"
                    f"<text x='{_f(left + w + 4)}' y='{y + 12}' font-size='9'>{value:.3g} "
                    f"({shares[i] if shares is not None else 100 * value / total:.0f} %)</text>")
    body.append(f"<text x='{left}' y='{height - 10}'>{_esc(xlabel)}</text>")
    return _frame(fig_id, title, width, height, body)


def heatmap(fig_id: str, title: str, rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float]],
            xlabel: str, width: int | None = None) -> str:
    """``values[row][col]`` in [0, 1] as white-to-blue cells, with the value in each cell's tooltip."""
    if not rows or not cols:
        return _frame(fig_id, title, 400, 60, [f"<text x='10' y='35'>{_esc(title)}: no data</text>"])
    cell_w, cell_h, left, top = max(14, min(48, 560 // len(cols))), 14, 90, 30
    width = width or left + cell_w * len(cols) + 20
    height = top + cell_h * len(rows) + 40
    body = [f"<text x='8' y='16' font-weight='bold'>{_esc(title)}</text>"]
    for i, label in enumerate(rows):
        body.append(f"<text x='{left - 4}' y='{top + i * cell_h + 11}' text-anchor='end' font-size='9'>"
                    f"{_esc(label)}</text>")
        for j, _ in enumerate(cols):
            v = min(max(float(values[i][j]), 0.0), 1.0)
            shade = int(255 - 200 * v)
            body.append(f"<rect x='{left + j * cell_w}' y='{top + i * cell_h}' width='{cell_w - 1}' "
                        f"height='{cell_h - 1}' fill='rgb({shade},{shade},255)'><title>{_esc(label)}, "
                        f"{_esc(cols[j])}: {v:.3f}</title></rect>")
    step = max(1, len(cols) // 12)
    for j in range(0, len(cols), step):
        body.append(f"<text x='{left + j * cell_w + cell_w / 2:.0f}' y='{top + len(rows) * cell_h + 12}' "
                    f"text-anchor='middle' font-size='9'>{_esc(cols[j])}</text>")
    body.append(f"<text x='{left}' y='{height - 8}'>{_esc(xlabel)}</text>")
    return _frame(fig_id, title, width, height, body)
