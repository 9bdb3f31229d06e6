#!/usr/bin/env python3
"""ha-throughput.json -> a self-contained HTML report (inline SVG, no scripts, no external assets).

    python3 perf/report.py [ha-throughput.json] [ha-throughput.html]

Charts: events/s with HA off beside HA on for each HA configuration, and the ack latency
percentiles (p50/p99/p999, log scale) of every configuration; then a table of every number.
"""
import html
import json
import math
import sys

COLOURS = {"off": "#8a94a6", "on": "#2f6fdf", "p50": "#3aa675", "p99": "#e0a030", "p999": "#d0453c"}


def fmt_rate(v):
    if v == 0:
        return "0"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k"


def fmt_us(us):
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.1f} ms"
    return f"{us:.0f} µs"


def nice_ceiling(v):
    """The smallest 1/2/5 x 10^n at or above v (the linear axis' top)."""
    if v <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def bar_chart(groups, series, value_of, label_of, tick_of, log=False, width=760, height=340):
    """Grouped vertical bars. groups: [(name, row)], series: [(key, legend, colour)]."""
    left, right, top, bottom = 80, 20, 30, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [value_of(row, key) for _, row in groups for key, _, _ in series if value_of(row, key) is not None]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="sans-serif" font-size="12">']
    if log:
        lo = 10 ** math.floor(math.log10(max(min(v for v in values if v > 0), 1e-9)))
        hi = 10 ** math.ceil(math.log10(max(values)))
        if hi <= lo:
            hi = lo * 10
        y_of = lambda v: top + plot_h * (1 - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
        ticks = [lo * 10 ** i for i in range(int(round(math.log10(hi / lo))) + 1)]
    else:
        hi = nice_ceiling(max(values) * 1.1)
        y_of = lambda v: top + plot_h * (1 - v / hi)
        ticks = [hi * i / 5 for i in range(6)]
    for t in ticks:
        y = y_of(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e6ec"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{html.escape(tick_of(t))}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>')
    group_w = plot_w / max(len(groups), 1)
    bar_w = min(110, group_w * 0.8 / len(series))
    for g, (name, row) in enumerate(groups):
        x0 = left + g * group_w + (group_w - bar_w * len(series)) / 2
        for s, (key, _, colour) in enumerate(series):
            v = value_of(row, key)
            if v is None:
                continue
            x, y = x0 + s * bar_w, y_of(v)
            out.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{top + plot_h - y:.1f}" fill="{colour}">'
                       f'<title>{html.escape(name)}: {html.escape(label_of(v))}</title></rect>')
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" fill="#222">{html.escape(label_of(v))}</text>')
        out.append(f'<text x="{left + g * group_w + group_w / 2:.1f}" y="{top + plot_h + 20}" text-anchor="middle" '
                   f'font-weight="bold" fill="#222">{html.escape(name)}</text>')
    lx = left
    for key, legend, colour in series:
        out.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 12}" fill="#222">{html.escape(legend)}</text>')
        lx += 26 + 7 * len(legend)
    out.append("</svg>")
    return "\n".join(out)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "ha-throughput.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else "ha-throughput.html"
    doc = json.load(open(src))
    results = doc["results"]
    off = next((r for r in results if not r["ha"]), None)
    on = [r for r in results if r["ha"]]

    throughput = bar_chart(
        [(r["label"], r) for r in on],
        [("off", "HA off (standalone)", COLOURS["off"]), ("on", "HA on (active + passive)", COLOURS["on"])],
        lambda r, k: (off["eventsPerSecond"] if off else None) if k == "off" else r["eventsPerSecond"],
        lambda v: fmt_rate(v) + "/s" + (f" ({v / off['eventsPerSecond']:.2f}×)" if off and off["eventsPerSecond"] and v != off["eventsPerSecond"] else ""),
        fmt_rate)
    latency = bar_chart(
        [(r["label"], r) for r in results],
        [("ackP50Us", "p50", COLOURS["p50"]), ("ackP99Us", "p99", COLOURS["p99"]), ("ackP999Us", "p99.9", COLOURS["p999"])],
        lambda r, k: r[k], fmt_us, fmt_us, log=True)

    rows = []
    for r in results:
        spm = r.get("snapshotsPerMinute")
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in [
            r["label"], r.get("file") or "—", r.get("queueCapacityEvents") or "—", r.get("persistInterval") or "—",
            f'{r["eventsPerSecond"]:,}', f'{r["ratioToHAOff"]:.2f}' if r.get("ratioToHAOff") is not None else "—",
            fmt_us(r["ackP50Us"]), fmt_us(r["ackP99Us"]), fmt_us(r["ackP999Us"]), fmt_us(r["ackMaxUs"]),
            f'{r["snapshotsSaved"]} in {r["seconds"]:.1f} s', spm if spm is not None else "—"]) + "</tr>")
    s = doc["settings"]
    load = doc.get("machine", {}).get("loadAverage")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tandem HA throughput</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; max-width: 1000px; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border: 1px solid #d5d9e0; padding: 4px 8px; text-align: right; }}
th {{ background: #f2f4f7; }} td:first-child, td:nth-child(2), td:nth-child(4) {{ text-align: left; }}
.note {{ color: #555; font-size: 13px; }}
</style></head><body>
<h1>Tandem: acknowledged ingest with HA off and on</h1>
<p class="note">{html.escape(doc["date"])} · {doc["machine"]["cores"]} cores{f" · load average {' / '.join(load)}" if load else ""} ·
{s["events"]:,} events per configuration in batches of {s["eventsPerBatch"]} · publisher: {html.escape(s["publisher"])}<br>
App: {html.escape(s["app"])}. Ack latency: {html.escape(s["ackLatency"])}.
Everything (nodes, MariaDB, publisher) ran on this one machine: the numbers are indicative.</p>
<h2>Events per second, HA off beside HA on</h2>
{throughput}
<h2>Ack latency per batch (log scale)</h2>
{latency}
<h2>All numbers</h2>
<table>
<tr><th>configuration</th><th>file</th><th>passive queue (events)</th><th>snapshot period</th><th>events/s</th>
<th>× HA off</th><th>ack p50</th><th>p99</th><th>p99.9</th><th>max</th><th>snapshots saved (active)</th><th>per minute</th></tr>
{"".join(rows)}
</table>
<p class="note">Snapshots saved: the active node's <code>tandem_snapshot_save_seconds</code> count (one per committed
save) read from <code>/metrics</code> before and after the publisher ran.</p>
</body></html>
"""
    open(dst, "w", encoding="utf-8").write(page)
    print(f"report written to {dst}", file=sys.stderr)


if __name__ == "__main__":
    main()
