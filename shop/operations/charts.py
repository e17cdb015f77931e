"""Server-rendered SVG charts for the dashboard, served as their own responses (`<img src>`).

Presentation attributes only (fill, stroke, font-size): no <style> element and no script, so
the images need nothing from the Content-Security-Policy. The numbers are in the table beside
each chart; the picture is for the glance.
"""

from django.utils.html import escape

# Colour-blind-safe palette (Okabe-Ito), dark enough on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 28, 34, 28


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _text(x, y, text, *, anchor="start", size=11, fill="#333333") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="sans-serif" font-size="{size}" '
        f'fill="{fill}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _legend(names) -> list[str]:
    parts, x = [], LEFT
    for position, name in enumerate(names):
        colour = PALETTE[position % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, 18, name))
        x += 24 + 7 * len(name)
    return parts


def line_chart(figure) -> str:
    names = list(figure.series)
    days = figure.days
    top = _nice_max(max((max(values) for values in figure.series.values() if values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def point(index, value):
        return LEFT + index * step, TOP + plot_h - (value / top) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="t">',
        f'<title id="t">{escape(figure.title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h - fraction * plot_h
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dddddd"/>')
        parts.append(_text(LEFT - 6, y + 4, f"{round(top * fraction)}{figure.unit}", anchor="end"))
    for index in sorted({0, len(days) // 2, len(days) - 1}):
        x, _ = point(index, 0)
        parts.append(_text(x, HEIGHT - 8, days[index].strftime("%d %b"), anchor="middle"))
    for position, name in enumerate(names):
        colour = PALETTE[position % len(PALETTE)]
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in enumerate(figure.series[name])))
        if len(days) == 1:
            x, y = point(0, figure.series[name][0])
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
        else:
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts += _legend(names)
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(figure) -> str:
    """One horizontal bar per series (a snapshot such as the MFA shares), 0-100 % or 0-max."""
    names = list(figure.series)
    values = [figure.series[name][-1] for name in names]
    top = 100 if figure.unit == "%" else _nice_max(max(values, default=0))
    label_w = 170
    plot_w = WIDTH - LEFT - RIGHT - label_w
    height = TOP + 36 * len(names) + BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t">',
        f'<title id="t">{escape(figure.title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    for position, (name, value) in enumerate(zip(names, values, strict=True)):
        y = TOP + position * 36
        colour = "#B00020" if figure.alerts and "Staff" in name and value < 100 else PALETTE[position % len(PALETTE)]
        parts.append(_text(LEFT, y + 16, name))
        parts.append(f'<rect x="{LEFT + label_w}" y="{y}" width="{plot_w}" height="22" fill="#eeeeee"/>')
        parts.append(
            f'<rect x="{LEFT + label_w}" y="{y}" width="{plot_w * value / top:.1f}" height="22" fill="{colour}"/>'
        )
        width = plot_w * value / top
        if width > 60:  # inside the bar, white on the colour
            parts.append(
                _text(LEFT + label_w + width - 6, y + 16, f"{value}{figure.unit}", anchor="end", fill="#ffffff")
            )
        else:
            parts.append(_text(LEFT + label_w + width + 6, y + 16, f"{value}{figure.unit}", fill="#000000"))
    parts.append("</svg>")
    return "\n".join(parts)


def render(figure) -> str:
    return bar_chart(figure) if len(figure.days) == 1 else line_chart(figure)
