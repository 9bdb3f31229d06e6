/// The status page `GET /`: one self-contained HTML document (no build step, no external assets).
/// The server puts the current `/status` JSON into it, so it shows the node at once; its script
/// then fetches `/status` every two seconds and redraws: role, peer, apps with their input rate over
/// the last minutes as an SVG chart, and the last snapshots.
enum StatusPage {
    /// `</` inside the embedded JSON would end the script element early.
    static func html(statusJSON: String) -> String {
        let embedded = statusJSON.replacingOccurrences(of: "</", with: "<\\/")
        return head + "<script id=\"initial\" type=\"application/json\">" + embedded + "</script>\n" + body
    }

    private static let head = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Tandem node</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
        header { background: #1d2330; color: #fff; padding: 14px 24px; display: flex; gap: 18px; align-items: baseline; }
        header h1 { font-size: 20px; margin: 0; }
        main { padding: 18px 24px; display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 18px; }
        section { background: #fff; border-radius: 8px; padding: 14px 18px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
        h2 { font-size: 15px; margin: 0 0 10px; color: #4a5468; text-transform: uppercase; letter-spacing: .04em; }
        .role { font-weight: 700; padding: 3px 12px; border-radius: 12px; color: #fff; background: #6b7280; }
        .role.active, .role.standalone { background: #15803d; } .role.passive { background: #1d4ed8; }
        .role.starting, .role.stopped { background: #b45309; }
        .up { color: #15803d; font-weight: 600; } .down { color: #b91c1c; font-weight: 600; }
        table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; }
        th { color: #6b7280; font-weight: 600; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
        svg text { font-size: 11px; fill: #6b7280; } .muted { color: #6b7280; }
        </style></head><body>

        """

    private static let body = """
        <header><h1>Tandem</h1><span id="node"></span><span class="role" id="role">…</span>
        <span id="health"></span><span class="muted" id="updated"></span></header>
        <main>
        <section><h2>Node</h2><table id="facts"></table></section>
        <section><h2>Peer</h2><table id="peer"></table></section>
        <section style="grid-column: 1 / -1"><h2>Input rate, events/s (last minutes)</h2>
        <svg id="chart" viewBox="0 0 900 220" width="100%" height="220" role="img" aria-label="throughput chart"></svg></section>
        <section><h2>Apps</h2><table id="apps"></table></section>
        <section><h2>Last snapshots</h2><table id="snapshots"></table></section>
        </main>
        <script>
        const colours = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
        const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
        const rows = (pairs) => pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("");
        const num = n => Number(n).toLocaleString("en-US", {maximumFractionDigits: 1});
        function render(s) {
          const n = s.node, h = s.health;
          document.getElementById("node").textContent = `${n.nodeId} (${n.mode})`;
          const role = document.getElementById("role");
          role.textContent = n.role; role.className = "role " + n.role;
          document.getElementById("health").innerHTML = `<span class="${h.status === "UP" ? "up" : "down"}">${esc(h.status)}</span>`;
          document.getElementById("updated").textContent = "updated " + new Date(s.nowEpochMs).toLocaleTimeString();
          document.getElementById("facts").innerHTML = rows([
            ["role", esc(n.role)], ["term", esc(n.term ?? "–")], ["in sync", esc(n.inSync ?? "–")],
            ["active node", esc(n.activeNode ?? "–")], ["database", n.dbReachable === undefined ? "–" : (n.dbReachable ? "reachable" : `<span class="down">unreachable</span>`)],
            ["last heartbeat", h.lastHeartbeatAgeMs === undefined ? "–" : `${h.lastHeartbeatAgeMs} ms ago`],
            ["io backend", esc(n.ioBackend)], ["version", esc(n.version)],
            ["health", h.reasons.length ? h.reasons.map(esc).join("<br>") : "doing its job"]]);
          const p = n.peer;
          document.getElementById("peer").innerHTML = p ? rows([["node", esc(p.nodeId)], ["role", esc(p.role)],
            ["event sync", esc(p.address ?? "–")], ["in sync", esc(p.inSync ?? "–")]])
            : `<tr><td class="muted">${n.mode === "ha" ? "no other node is heartbeating" : "standalone: no peer"}</td></tr>`;
          const last = s.history.length ? s.history[s.history.length - 1].eventsPerSecond : {};
          document.getElementById("apps").innerHTML = "<tr><th>app</th><th>status</th><th>events in</th><th>events out</th><th>now/s</th></tr>" +
            (n.apps.length ? n.apps.map((a, i) => `<tr><td><span class="swatch" style="background:${colours[i % colours.length]}"></span>${esc(a.name)}</td>` +
              `<td>${esc(a.status)}${a.error ? " – " + esc(a.error) : ""}</td><td class="n">${num(a.eventsIn)}</td><td class="n">${num(a.eventsOut)}</td>` +
              `<td class="n">${num(last[a.name] ?? 0)}</td></tr>`).join("") : `<tr><td colspan="5" class="muted">no apps deployed</td></tr>`);
          document.getElementById("snapshots").innerHTML = "<tr><th>app</th><th>revision</th><th>bytes</th><th>ms</th><th>at</th></tr>" +
            (n.snapshots.length ? n.snapshots.map(x => `<tr><td>${esc(x.app)}</td><td>${esc(x.revision)}</td><td class="n">${num(x.bytes)}</td>` +
              `<td class="n">${x.durationMs}</td><td>${new Date(x.atEpochMs).toLocaleTimeString()}</td></tr>`).join("") : `<tr><td colspan="5" class="muted">none yet</td></tr>`);
          chart(n.apps.map(a => a.name), s.history, s.nowEpochMs);
        }
        function chart(names, history, now) {
          const W = 900, H = 220, L = 60, B = 24, T = 10, spanMs = 5 * 60 * 1000;
          let max = 1;
          for (const h of history) for (const v of Object.values(h.eventsPerSecond)) max = Math.max(max, v);
          const x = t => L + (W - L - 10) * (1 - Math.min(spanMs, Math.max(0, now - t)) / spanMs);
          const y = v => H - B - (H - B - T) * v / max;
          let svg = "";
          for (let k = 0; k <= 4; k++) {
            const v = max * k / 4;
            svg += `<line x1="${L}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`;
          }
          for (let m = 0; m <= 5; m++) svg += `<text x="${x(now - m * 60000)}" y="${H - 6}" text-anchor="middle">${m ? "-" + m + " min" : "now"}</text>`;
          names.forEach((name, i) => {
            const pts = history.filter(h => name in h.eventsPerSecond).map(h => `${x(h.atEpochMs).toFixed(1)},${y(h.eventsPerSecond[name]).toFixed(1)}`);
            if (pts.length) svg += `<polyline fill="none" stroke-width="2" stroke="${colours[i % colours.length]}" points="${pts.join(" ")}"/>`;
          });
          if (!history.length) svg += `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">collecting samples…</text>`;
          document.getElementById("chart").innerHTML = svg;
        }
        render(JSON.parse(document.getElementById("initial").textContent));
        setInterval(() => fetch("/status", {cache: "no-store"}).then(r => r.json()).then(render).catch(() => {
          const role = document.getElementById("role"); role.textContent = "unreachable"; role.className = "role stopped";
        }), 2000);
        </script></body></html>

        """
}
