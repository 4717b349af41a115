"""The SVG chart: a horizontal bar per contender and workload, req/s relative to SET PX."""

from .report import paired_ratio

COLORS = {"SET": "#95a5a6", "CL.THROTTLE": "#c0392b", "CL.THROTTLE (baseline)": "#e67e22",
          "Lua EVALSHA": "#7f8c8d", "FCALL": "#8e44ad", "gcra.lua EVALSHA": "#c39bd3", "redis-cell": "#2980b9"}


def render_chart(results, name, version, pipeline, contenders, workloads):
    """A horizontal bar chart (SVG, no dependencies) of req/s relative to SET PX."""
    shown = [c for c in contenders if c.label != "SET PX"
             and any((name, pipeline, w.id, c.label) in results for w in workloads)]
    bar, gap, left, width, top = 16, 14, 340, 400, 60
    groups = [w for w in workloads if (name, pipeline, w.id, "SET PX") in results]
    rows = {w.id: [c for c in shown if (name, pipeline, w.id, c.label) in results] for w in groups}
    height = top + sum(bar * len(rows[w.id]) + gap for w in groups) + 60
    scale = width / 1.6  # the axis runs from 0 to 1.6x SET PX
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">Throughput relative to SET k v PX '
        f'({version}, -P {pipeline}, same server, same run)</text>',
        '<text x="10" y="40" fill="#555">req/s over SET PX\'s in the same round (median of rounds); higher is better; '
        'SET PX = 1.0 (dashed); several limits: per limit</text>',
    ]
    y = top
    for w in groups:
        out.append(f'<text x="{left - 8}" y="{y + bar * len(rows[w.id]) / 2 + 4}" '
                   f'text-anchor="end">{w.label}</text>')
        for c in rows[w.id]:
            n = 1 if c.baseline else len(w.limits)
            value = paired_ratio(results, (name, pipeline, w.id, c.label),
                                 (name, pipeline, w.id, "SET PX")) * n
            length = max(min(value, 1.6), 0) * scale
            out.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar - 3}" '
                       f'fill="{COLORS.get(c.label, "#34495e")}"/>')
            out.append(f'<text x="{left + length + 4:.1f}" y="{y + bar - 5}">{value:.2f}x</text>')
            y += bar
        y += gap
    one = left + scale
    out.append(f'<line x1="{one:.1f}" y1="{top - 6}" x2="{one:.1f}" y2="{y}" '
               'stroke="black" stroke-dasharray="4 3"/>')
    for tick in (0, 0.5, 1.0, 1.5):
        out.append(f'<text x="{left + tick * scale:.1f}" y="{y + 16}" text-anchor="middle" '
                   f'fill="#555">{tick:g}</text>')
    for k, c in enumerate(shown):
        x = 10 + k * 150
        out.append(f'<rect x="{x}" y="{y + 30}" width="12" height="12" '
                   f'fill="{COLORS.get(c.label, "#34495e")}"/>')
        out.append(f'<text x="{x + 18}" y="{y + 40}">{c.label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
