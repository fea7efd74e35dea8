// Fills the Bento grid from GET /api/dashboard (same origin, the session cookie).
// Every value goes in through textContent: file names are the user's own input.
(function () {
  "use strict";
  const root = document.getElementById("bento");
  if (!root) return;
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const number = new Intl.NumberFormat();
  function bytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }
  function ago(iso) {
    const minutes = Math.round((Date.now() - new Date(iso)) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min ago`;
    if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h ago`;
    return `${Math.round(minutes / 1440)} days ago`;
  }
  function until(iso) {
    const minutes = Math.round((new Date(iso) - Date.now()) / 60000);
    if (minutes < 60) return `in ${Math.max(minutes, 1)} min`;
    if (minutes < 48 * 60) return `in ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
    return `in ${Math.round(minutes / 1440)} days`;
  }
  function empty(list, text) { list.replaceChildren(el("li", "empty", text)); }
  function emptyWithLink(list, before, linkText, href, after) {
    const item = el("li", "empty", before);
    const link = el("a", "", linkText);
    link.href = href;
    item.append(link, after);
    list.replaceChildren(item);
  }

  function render(data) {
    field("credits").textContent = data.credits_remaining === null ? "—" : number.format(data.credits_remaining);
    field("plan-name").textContent = data.plan.name;
    const quota = data.plan.runs_per_window === null
      ? "unlimited runs"
      : `${data.plan.runs_used} of ${data.plan.runs_per_window} runs used this ${data.plan.usage_window} (resets ${until(data.plan.window_resets_at)})`;
    const status = data.subscription ? `${data.subscription.status} · ` : "";
    field("plan-detail").textContent = `${status}${quota} · files kept ${data.plan.retention_hours} h`;

    const used = data.storage.used_bytes, limit = data.storage.limit_bytes;
    field("storage-used").textContent = bytes(used);
    field("storage-limit").textContent = `of ${bytes(limit)}`;
    field("storage-meter").style.width = `${limit ? Math.min(100, (100 * used) / limit) : 0}%`;

    const runs = field("recent-runs");
    runs.replaceChildren();
    for (const run of data.recent_runs) {
      const item = el("li", "run");
      item.dataset.runId = run.id;
      item.append(el("span", "tool", run.tool_name), el("span", `badge ${run.status}`, run.status));
      item.append(el("span", "file", run.input_file_name), el("span", "when", ago(run.created_at)));
      runs.append(item);
    }
    if (!data.recent_runs.length) emptyWithLink(runs, "No runs yet: ", "pick a tool", "/", " and drop a file.");

    const usage = field("usage");
    usage.replaceChildren();
    const byTool = Object.entries(data.totals.by_tool).sort((a, b) => b[1] - a[1]);
    const top = byTool.length ? byTool[0][1] : 0;
    field("total-used").textContent = `· ${number.format(data.totals.total_used)} runs`;
    for (const [tool, count] of byTool) {
      const item = el("li");
      item.dataset.tool = tool;
      const bar = el("div", "bar");
      bar.style.width = `${top ? (100 * count) / top : 0}%`;
      const track = el("div");
      track.append(bar);
      item.append(el("span", "name", data.tool_names[tool] || tool), track, el("span", "count", number.format(count)));
      usage.append(item);
    }
    if (!byTool.length) empty(usage, "Nothing used yet.");

    const expiring = field("expiring");
    expiring.replaceChildren();
    const now = Date.now();
    const soon = data.recent_runs
      .filter((run) => new Date(run.expires_at) > now)
      .sort((a, b) => new Date(a.expires_at) - new Date(b.expires_at))
      .slice(0, 5);
    for (const run of soon) {
      const item = el("li");
      item.dataset.runId = run.id;
      item.append(el("span", "file", `${run.tool_name}: ${run.output_file_name || run.input_file_name}`), el("span", "in", until(run.expires_at)));
      expiring.append(item);
    }
    if (!soon.length) empty(expiring, "Nothing of yours is about to expire.");

    drawActivity(field("activity"), data.daily);
  }

  function drawActivity(container, daily) {
    // Bars per day with a labelled axis (0 and the top value) and dates under the first, middle and last bar.
    const ns = "http://www.w3.org/2000/svg";
    const totals = daily.days.map((_, i) => Object.values(daily.by_tool).reduce((sum, values) => sum + values[i], 0));
    const max = Math.max(1, ...totals);
    const width = 600, height = 160, left = 34, bottom = 22, plot = height - bottom - 6;
    const slot = (width - left) / totals.length;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    const sum = totals.reduce((a, b) => a + b, 0);
    svg.setAttribute("aria-label", `Runs per day, last 30 days: ${sum} in all, at most ${max} on one day`);
    const text = (x, y, value, anchor) => {
      const node = document.createElementNS(ns, "text");
      node.setAttribute("x", x); node.setAttribute("y", y); node.setAttribute("font-size", "11");
      node.setAttribute("fill", "#374151"); node.setAttribute("text-anchor", anchor);
      node.textContent = value;
      svg.append(node);
    };
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", left); line.setAttribute("x2", width); line.setAttribute("y1", 6 + plot); line.setAttribute("y2", 6 + plot);
    line.setAttribute("stroke", "#9ca3af");
    svg.append(line);
    text(left - 6, 6 + plot, "0", "end");
    text(left - 6, 14, String(max), "end");
    totals.forEach((total, i) => {
      const h = (plot * total) / max;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", (left + i * slot + slot * 0.15).toFixed(1));
      rect.setAttribute("y", (6 + plot - h).toFixed(1));
      rect.setAttribute("width", (slot * 0.7).toFixed(1));
      rect.setAttribute("height", Math.max(h, total ? 2 : 0).toFixed(1));
      rect.setAttribute("rx", "2");
      rect.setAttribute("fill", "#4f46e5");
      const title = document.createElementNS(ns, "title");
      title.textContent = `${daily.days[i]}: ${total} runs`;
      rect.append(title);
      svg.append(rect);
    });
    const label = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
    const last = totals.length - 1, middle = Math.floor(last / 2);
    text(left + slot / 2, height - 6, label(daily.days[0]), "start");
    text(left + middle * slot + slot / 2, height - 6, label(daily.days[middle]), "middle");
    text(left + last * slot + slot / 2, height - 6, label(daily.days[last]), "end");
    const children = [svg];
    if (!sum) {
      const note = el("p", "empty", "No runs in the last 30 days.");
      children.push(note);
    }
    const more = el("a", "", "Details by tool and day");
    more.href = "/usage/";
    children.push(more);
    container.replaceChildren(...children);
  }

  fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .then((data) => { render(data); root.dataset.state = "ready"; })
    .catch(() => { root.dataset.state = "error"; root.querySelector(".load-error").hidden = false; });
})();
