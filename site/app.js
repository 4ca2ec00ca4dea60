/* Baseweight Bench dashboard. Reads window.BASEWEIGHT_DATA (data.js); all numbers are computed in Python.
   Every string from the data is written with textContent, never innerHTML. */
(function () {
  "use strict";
  const D = window.BASEWEIGHT_DATA;
  const PALETTE = ["#2456c7", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d",
                   "#364fc7", "#a61e4d", "#087f5b", "#495057"];
  const ERROR_COLORS = { correct: "#2b8a3e", pass: "#2b8a3e", not_applicable: "#69db7c", missing: "#adb5bd" };
  const ERROR_PALETTE = ["#e03131", "#f08c00", "#862e9c", "#1971c2", "#c2255c", "#495057", "#0b7285", "#a61e4d"];
  const FLAG_TEXT = { smoke: "smoke", partial_data: "partial data", stand_in: "API stand-in", incomplete: "incomplete" };
  const SURFACE_TEXT = { inferior: "not non-inferior (N < N*)", noninferior_not_cheaper: "non-inferior, API cheaper",
                         cheaper_and_noninferior: "non-inferior and cheaper" };
  const state = { task: D.task_order[0], scenario: D.pricing.default_scenario, sortKey: "metric", sortDir: -1,
                  curveModel: {} };
  const charts = {};
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  // ---------------------------------------------------------------- helpers
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  const num = (v) => typeof v === "number" && isFinite(v);
  function fmt(v, digits) { return num(v) ? v.toFixed(digits === undefined ? 3 : digits) : "–"; }
  function usd(v) {
    if (!num(v)) return "–";
    const a = Math.abs(v);
    if (a >= 1000) return "$" + Math.round(v).toLocaleString("en-US");
    if (a >= 1) return "$" + v.toFixed(2);
    if (a === 0) return "$0";
    return "$" + v.toPrecision(3);
  }
  // label only 1-2-5 steps of each decade so log axes stay readable
  function logTick(format) {
    return (v) => { const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)); return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6) ? format(v) : ""; };
  }
  function vol(v) { return num(v) ? Math.ceil(v).toLocaleString("en-US") + "/day" : "–"; }
  function task() { return D.tasks[state.task]; }
  function label(cell) { return cell.display_name + " · " + cell.condition; }
  function okCells(t) { return t.order.map((k) => t.cells[k]).filter((c) => c.status === "ok"); }
  // scored cells, complete or not: descriptive charts (errors, latency) show what an incomplete cell did answer
  function scoredCells(t) { return t.order.map((k) => t.cells[k]).filter((c) => c.status !== "skipped"); }
  function pct(v) { return num(v) ? (100 * v).toFixed(v < 0.1 ? 1 : 0) + "%" : "–"; }
  function pval(v) { return num(v) ? (v < 0.001 ? v.toExponential(1) : v.toFixed(3)) : "–"; }
  function count(v) { return num(v) ? Math.round(v).toLocaleString("en-US") : "–"; }
  // a p (selection) at its family's floor says "not resolvable with this many permutations", not "no effect"
  function selP(p, m, floor) {
    if (!num(p)) return "–";
    return pval(p) + " (" + m + (num(floor) && p <= floor * (1 + 1e-9) ? ", at the floor" : "") + ")";
  }
  function sc(cell) { return cell.cost && cell.cost.by_scenario ? cell.cost.by_scenario[state.scenario] : undefined; }
  function color(t, key) { return PALETTE[t.order.indexOf(key) % PALETTE.length]; }
  function badges(parent, flags) { (flags || []).forEach((f) => parent.appendChild(el("span", FLAG_TEXT[f] || f, "badge"))); }
  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  }
  function fillTable(table, headers, rows) {
    table.replaceChildren();
    const head = el("tr");
    headers.forEach((h) => head.appendChild(el("th", h)));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    rows.forEach((cells) => {
      const tr = body.appendChild(el("tr"));
      cells.forEach((c, i) => {
        const td = tr.appendChild(el("td", c instanceof Node ? undefined : c, i === 0 ? "text" : ""));
        if (c instanceof Node) td.appendChild(c);
      });
    });
  }
  function flagList(ul, messages) {
    ul.replaceChildren();
    messages.forEach((m) => ul.appendChild(el("li", m)));
    ul.hidden = messages.length === 0;
  }

  // ---------------------------------------------------------------- page furniture
  function renderHeader() {
    document.getElementById("meta").textContent = "Generated " + D.generated_at + " · profile " + D.profile +
      " · package " + D.package_version + " · schema " + D.schema_version + " · prices in " + D.pricing.currency;
    flagList(document.getElementById("flags"), D.flags.messages);
    const footer = document.getElementById("footer");
    footer.textContent = "Utilisation target " + D.pricing.utilisation_target + "; adapters retrained " +
      D.pricing.trainings_per_year + "× a year; Batch API discount " + D.pricing.batch_discount * 100 +
      "%. API prices: " + Object.entries(D.pricing.api).map(([m, p]) => m + " $" + p.input_per_1m + "/$" +
      p.output_per_1m + " per 1M in/out (" + p.effective_from + ")").join("; ") + ".";
  }

  function renderControls() {
    document.getElementById("curve-model-select").addEventListener("change", (e) => {
      state.curveModel[state.task] = e.target.value; renderCurve(task());
    });
    const ts = document.getElementById("task-select");
    D.task_order.forEach((id) => { const o = el("option", D.tasks[id].name); o.value = id; ts.appendChild(o); });
    ts.value = state.task;
    ts.addEventListener("change", () => { state.task = ts.value; render(); });
    const ss = document.getElementById("scenario-select");
    D.scenarios.forEach((s) => { const o = el("option", s); o.value = s; ss.appendChild(o); });
    ss.value = state.scenario;
    ss.addEventListener("change", () => { state.scenario = ss.value; render(); renderCross(); });
  }

  function renderCross() {
    const x = D.cross_task;
    document.getElementById("cross-summary").textContent = "Best LoRA beats the best API cell on " +
      x.lora_better_than_best_api + " of " + x.n_tasks_compared + " tasks (" + x.lora_significantly_better +
      " significantly: LoRA − API > 0 with p (selection) < " + x.alpha + ").";
    document.getElementById("cross-rule").textContent = x.rule;
    const rows = x.rows.map((r) => {
      const best = (k) => (k ? label(D.tasks[r.task].cells[k]) : "–");
      const flags = el("span");
      badges(flags, r.flags);
      const ci = num(r.paired_ci[0]) ? " [" + fmt(r.paired_ci[0]) + ", " + fmt(r.paired_ci[1]) + "]" : "";
      const sel = selP(r.p_selection, r.selection_m + " pairs", r.selection_p_floor);
      return [r.name, r.metric_label, best(r.best_lora), fmt(r.best_lora_metric), best(r.best_api),
              fmt(r.best_api_metric), fmt(r.lora_minus_api) + ci, pval(r.p_value), sel,
              num(r.cost_per_1k_correct_ratio) ? r.cost_per_1k_correct_ratio.toFixed(1) + "×" : "–",
              r.incomplete.length ? r.incomplete.map((k) => label(D.tasks[r.task].cells[k])).join(", ") : "–", flags];
    });
    fillTable(document.getElementById("cross-table"), ["Task", "Metric", "Best LoRA", "", "Best API", "",
      "LoRA − API [paired CI]", "p", "p (selection)", "API $/1k correct ÷ LoRA's", "Incomplete (not compared)",
      "Flags"], rows);
    const list = document.getElementById("verdicts");
    list.replaceChildren();
    x.rows.forEach((r) => r.verdicts.forEach((v) => {
      const li = list.appendChild(el("li"));
      li.appendChild(el("strong", r.name + " · " + v.display_name + ": "));
      li.appendChild(el("span", v.verdict, "verdict"));
    }));
    document.getElementById("verdicts-empty").hidden = list.children.length > 0;
    chart("chart-cross", {
      type: "bar",
      data: { labels: x.rows.map((r) => r.name),
              datasets: [{ label: "Best LoRA", data: x.rows.map((r) => r.best_lora_metric), backgroundColor: PALETTE[0] },
                         { label: "Best API", data: x.rows.map((r) => r.best_api_metric), backgroundColor: PALETTE[1] }] },
      options: { scales: { y: { min: 0, max: 1, title: { display: true, text: "task metric" } } } },
    });
  }

  // ---------------------------------------------------------------- per task
  function seedsText(c) {
    const m = c.metric;
    if (m.n_seeds < 2) return "1";
    const v = m.variance || {};
    const share = num(v.total) && v.total > 0 && num(v.seeds) ? " (" + pct(v.seeds / v.total) + " of variance)" : "";
    return m.n_seeds + " · sd " + fmt(v.seed_sd) + share;
  }
  const COLUMNS = [
    { key: "model", title: "Model · condition", text: true, value: (c) => label(c) },
    { key: "metric", title: "Metric [95% CI]", value: (c) => c.metric && c.metric.value,
      show: (c) => { const s = el("span", fmt(c.metric.value)); s.appendChild(el("span", " [" + fmt(c.metric.ci_lo) + ", " + fmt(c.metric.ci_hi) + "]", "ci")); return s; } },
    { key: "tseeds", title: "Training seeds", value: (c) => c.metric && c.metric.n_seeds, show: seedsText },
    { key: "seed", title: "Eval seeds mean ± sd", value: (c) => c.metric && c.metric.seed_mean,
      show: (c) => (c.metric.seed_note ? c.metric.seed_note : fmt(c.metric.seed_mean) + " ± " + fmt(c.metric.seed_std)) },
    { key: "share", title: "Correct share", value: (c) => c.correct_share, show: (c) => fmt(c.correct_share) },
    { key: "cpq", title: "$/query", value: (c) => sc(c) && sc(c).per_query, show: (c) => usd(sc(c) && sc(c).per_query) },
    { key: "c1k", title: "$/1k correct", value: (c) => sc(c) && sc(c).per_1k_correct, show: (c) => usd(sc(c) && sc(c).per_1k_correct) },
    { key: "tco", title: "TCO 12 mo", value: (c) => sc(c) && sc(c).tco_12mo.total, show: (c) => usd(sc(c) && sc(c).tco_12mo.total) },
    { key: "p50", title: "p50 latency s (n)", value: (c) => c.latency && c.latency.latency_p50_s,
      show: (c) => fmt(c.latency.latency_p50_s, 2) + (num(c.latency.latency_n) ? " (" + c.latency.latency_n + ")" : "") },
    { key: "hw", title: "Priced on", text: true, value: (c) => c.cost && (c.cost.hardware || c.cost.basis),
      show: (c) => (c.cost.hardware ? c.cost.hardware : c.cost.basis || "–") },
    { key: "qps", title: "Saturated q/s", value: (c) => c.latency && (c.latency.saturated_qps || c.latency.throughput_qps),
      show: (c) => fmt(c.latency.saturated_qps || c.latency.throughput_qps, 2) },
  ];

  function renderLeaderboard(t) {
    const table = document.getElementById("leaderboard");
    table.replaceChildren();
    const head = el("tr");
    COLUMNS.concat([{ key: "flags", title: "Flags", text: true }]).forEach((col) => {
      const th = el("th", col.title, col.text ? "text" : "");
      th.dataset.key = col.key;
      if (col.key === state.sortKey) th.setAttribute("aria-sort", state.sortDir > 0 ? "ascending" : "descending");
      if (col.value) th.addEventListener("click", () => {
        state.sortDir = state.sortKey === col.key ? -state.sortDir : (col.text ? 1 : -1);
        state.sortKey = col.key;
        renderLeaderboard(task());
      });
      head.appendChild(th);
    });
    table.appendChild(el("thead")).appendChild(head);
    const col = COLUMNS.find((c) => c.key === state.sortKey);
    const cells = t.order.map((k) => t.cells[k]);
    const ok = cells.filter((c) => c.status === "ok").sort((a, b) => {
      const va = col.value(a), vb = col.value(b);
      if (va === vb) return 0;
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * state.sortDir;
    });
    const pareto = new Set(t.pareto[state.scenario]);
    const body = table.appendChild(el("tbody"));
    const rest = cells.filter((c) => c.status === "incomplete").concat(cells.filter((c) => c.status === "skipped"));
    ok.concat(rest).forEach((c) => {
      const tr = body.appendChild(el("tr", undefined, c.status === "ok" ? "" : c.status));
      tr.dataset.variant = c.variant;
      COLUMNS.forEach((colm) => {
        const td = tr.appendChild(el("td", undefined, colm.text ? "text" : ""));
        if (colm.key === "model") td.textContent = label(c);
        else if (c.status === "skipped") td.textContent = colm.key === "metric" ? "skipped: " + (c.reason || "") : "";
        else if (c.status === "incomplete" && colm.key === "metric") {
          const share = c.completeness ? pct(c.completeness.missing_share) + " missing" : "answers missing";
          td.appendChild(el("span", "incomplete · " + share, "badge incomplete"));
          td.appendChild(num(c.metric.value) ? colm.show(c) : el("span", " nothing scored", "ci"));
        } else if (c.status === "incomplete" && !["tseeds", "share"].includes(colm.key)) td.textContent = "";
        else {
          const v = colm.show(c);
          if (v instanceof Node) td.appendChild(v); else td.textContent = v;
        }
      });
      const ftd = tr.appendChild(el("td", undefined, "text"));
      if (c.status === "incomplete") {
        ftd.appendChild(el("span", "not compared", "badge incomplete"));
        ftd.appendChild(el("div", c.reason, "reason"));
      }
      if (pareto.has(c.variant)) ftd.appendChild(el("span", "Pareto", "badge pareto"));
      badges(ftd, (c.flags || []).filter((f) => f !== "incomplete"));
      if (c.sandbox && c.sandbox.backend) ftd.appendChild(el("span", "sandbox: " + c.sandbox.backend, "badge sandbox"));
      if (c.cost && c.cost.error && c.status === "ok") ftd.appendChild(el("span", "cost: " + c.cost.error, "badge"));
    });
  }

  function renderScatter(t) {
    const pts = okCells(t).filter((c) => sc(c) && num(c.metric.value)).map((c) => (
      { x: sc(c).per_query, y: c.metric.value, name: label(c), kind: c.kind }));
    const front = t.pareto[state.scenario].map((k) => t.cells[k]).map((c) => ({ x: sc(c).per_query, y: c.metric.value, name: label(c) }));
    chart("chart-scatter", {
      type: "scatter",
      data: { datasets: [
        { label: "Self-hosted", data: pts.filter((p) => p.kind === "local"), backgroundColor: PALETTE[0], pointRadius: 5 },
        { label: "API", data: pts.filter((p) => p.kind === "api"), backgroundColor: PALETTE[1], pointRadius: 5, pointStyle: "rectRot" },
        { label: "Pareto front", data: front, showLine: true, borderColor: "#868e96", borderDash: [4, 3], pointRadius: 0, fill: false },
      ] },
      options: { scales: { x: { type: "logarithmic", ticks: { callback: logTick(usd) },
                                title: { display: true, text: "cost per query (USD, " + state.scenario + " GPU prices)" } },
                           y: { min: 0, max: 1, title: { display: true, text: t.metric_label } } },
                 plugins: { tooltip: { callbacks: { label: (ctx) => ctx.raw.name + ": " + fmt(ctx.raw.y) + " at " + usd(ctx.raw.x) } } } },
    });
  }

  function renderTco(t) {
    const curves = t.tco_curves.by_scenario[state.scenario];
    const volumes = t.tco_curves.volumes;
    const datasets = Object.keys(curves).map((k) => {
      const c = t.cells[k];
      return { label: label(c), data: volumes.map((v, i) => ({ x: v, y: curves[k][i] })), borderColor: color(t, k),
               backgroundColor: color(t, k), pointRadius: 0, borderWidth: 2, borderDash: c.kind === "api" ? [6, 3] : [] };
    });
    const marks = [];
    okCells(t).filter((c) => c.condition.startsWith("lora") && c.break_even).forEach((c) => {
      Object.entries(c.break_even).forEach(([api, by]) => {
        const b = by[state.scenario];
        if (num(b.daily_volume)) marks.push({ x: b.daily_volume, y: b.tco_12mo_at_volume, name: label(c) + " vs " + label(t.cells[api]) });
      });
    });
    datasets.push({ label: "Break-even (LoRA vs API)", data: marks, type: "scatter", pointRadius: 7, pointStyle: "crossRot",
                    borderColor: "#000", backgroundColor: "#000", borderWidth: 2 });
    chart("chart-tco", {
      type: "line", data: { datasets },
      options: { parsing: true, scales: {
        x: { type: "logarithmic", ticks: { callback: logTick((v) => v.toLocaleString("en-US")) }, title: { display: true, text: "queries per day" } },
        y: { type: "logarithmic", ticks: { callback: logTick(usd) }, title: { display: true, text: "12-month TCO (USD, " + state.scenario + ")" } } },
        plugins: { legend: { labels: { boxWidth: 12, font: { size: 10 } } },
                   tooltip: { callbacks: { label: (ctx) => (ctx.raw.name || ctx.dataset.label) + ": " + usd(ctx.raw.y) + " at " + vol(ctx.raw.x) } } } },
    });
  }

  function renderErrors(t) {
    const cells = scoredCells(t);
    const seen = [...new Set(cells.flatMap((c) => Object.keys(c.error_counts)))];
    const order = (t.error_categories || []).filter((k) => seen.includes(k)).concat(seen.filter((k) => !(t.error_categories || []).includes(k)));
    chart("chart-errors", {
      type: "bar",
      data: { labels: cells.map(label), datasets: order.map((cat, i) => ({
        label: cat, backgroundColor: ERROR_COLORS[cat] || ERROR_PALETTE[i % ERROR_PALETTE.length],
        data: cells.map((c) => { const n = Object.values(c.error_counts).reduce((a, b) => a + b, 0); return n ? (c.error_counts[cat] || 0) / n : 0; }) })) },
      options: { indexAxis: "y", scales: { x: { stacked: true, min: 0, max: 1 }, y: { stacked: true, ticks: { font: { size: 10 } } } } },
    });
  }

  function renderLatency(t) {
    const cells = scoredCells(t).filter((c) => num(c.latency.latency_p50_s));
    const series = [["p50", "latency_p50_s"], ["p95", "latency_p95_s"], ["TTFT p50", "ttft_p50_s"]];
    chart("chart-latency", {
      type: "bar",
      data: { labels: cells.map((c) => label(c) + (num(c.latency.latency_n) ? " (n=" + c.latency.latency_n + ")" : "")),
              datasets: series.map(([name, key], i) => ({
        label: name, backgroundColor: PALETTE[i * 2], data: cells.map((c) => c.latency[key]) })) },
      options: { scales: { y: { title: { display: true, text: "seconds (concurrency-1 probe)" } }, x: { ticks: { font: { size: 10 } } } } },
    });
  }

  function renderLoss(t) {
    const datasets = [];
    okCells(t).filter((c) => c.training).forEach((c) => {
      const col = color(t, c.variant);
      datasets.push({ label: label(c) + " train", data: c.training.loss_history.map((p) => ({ x: p.step, y: p.loss })),
                      borderColor: col, backgroundColor: col, pointRadius: 2 });
      if (c.training.val_loss_history.length) datasets.push({ label: label(c) + " val",
        data: c.training.val_loss_history.map((p) => ({ x: p.step, y: p.loss })), borderColor: col,
        backgroundColor: col, borderDash: [5, 4], pointRadius: 2 });
    });
    document.getElementById("loss-empty").hidden = datasets.length > 0;
    chart("chart-loss", { type: "line", data: { datasets },
      options: { scales: { x: { type: "linear", title: { display: true, text: "step" } }, y: { title: { display: true, text: "loss" } } } } });
  }

  function renderComparisons(t) {
    const stats = t.comparison_stats;
    const rows = t.comparisons.map((c) => {
      const p = c.paired || {};
      const ci = num(p.ci_lo) ? "[" + fmt(p.ci_lo) + ", " + fmt(p.ci_hi) + "]" + (p.ci_method === "seeded_paired" ? " †" : "")
        : (p.error ? "n/a: " + p.error : "–");
      const sel = selP(c.p_selection, c.selection_m, c.selection_p_floor);
      return [c.kind.replace(/_/g, " "), label(t.cells[c.a]), label(t.cells[c.b]), fmt(c.metric_a), fmt(c.metric_b),
              fmt(c.diff), ci, pval(c.p_value), p.test || "–", pval(c.p_holm), sel, fmt(p.mde),
              num(c.cost_per_1k_correct_ratio) ? c.cost_per_1k_correct_ratio.toFixed(2) + "×" : "–"];
    });
    fillTable(document.getElementById("comparisons"), ["Comparison", "A (LoRA)", "B", "A", "B", "A − B",
      "paired 95% CI", "p", "test", "p (Holm)", "p (selection, pairs)", "MDE", "B $/1k correct ÷ A's"], rows);
    const notes = [stats.table_rule, stats.selection_rule,
      "With " + stats.n_resamples + " permutations a p-value is at least 2/" + (stats.n_resamples + 1) +
      ", so a family of m pairs cannot adjust below 2m/" + (stats.n_resamples + 1) + ": p (selection) at that floor is " +
      "\u201cnot resolvable with this many resamples\u201d, not \u201cnot significant\u201d.",
      "MDE: the smallest true difference a 5% test detects with 80% power, from the paired bootstrap."];
    if (t.comparisons.some((c) => (c.paired || {}).ci_method === "seeded_paired"))
      notes.push("† LoRA cell trained under several seeds: difference and CI over every seed (questions and seeds " +
                 "resampled); p-value from training seed 0's predictions (a permutation test cannot carry seed variance).");
    const box = document.getElementById("comparisons-rule");
    box.replaceChildren();
    notes.forEach((n) => box.appendChild(el("li", n)));
  }

  function renderBreakEven(t) {
    const rows = [];
    okCells(t).filter((c) => c.break_even).forEach((c) => Object.entries(c.break_even).forEach(([api, by]) => {
      const b = by[state.scenario];
      rows.push([label(c), label(t.cells[api]), num(b.daily_volume) ? vol(b.daily_volume) : (b.reason || "never"),
                 num(b.always_cheaper_above) ? vol(b.always_cheaper_above) : "–",
                 usd(sc(c).hourly_rate) + "/h " + (c.cost.hardware || "")]);
    }));
    fillTable(document.getElementById("break-even"), ["Self-hosted", "vs API", "Cheaper from", "Always cheaper above",
      "Rate (" + state.scenario + ")"], rows);
  }

  function renderSamples(t) {
    const box = document.getElementById("samples");
    box.replaceChildren();
    okCells(t).filter((c) => c.samples && c.samples.length).forEach((c) => {
      const div = box.appendChild(el("div", undefined, "sample"));
      div.appendChild(el("strong", label(c)));
      c.samples.forEach((s) => {
        div.appendChild(el("div", (s.category || "") + " · " + s.question_id, "meta"));
        div.appendChild(el("pre", s.output, "model-output"));
      });
    });
  }

  // ---------------------------------------------------------------- data-efficiency curve
  function curvesOf(t) { return (D.curves.by_task[t.task]) || {}; }

  function renderCurveControls(t) {
    const curves = curvesOf(t);
    const models = Object.keys(curves).sort();
    const select = document.getElementById("curve-model-select");
    select.replaceChildren();
    models.forEach((m) => { const o = el("option", curves[m].display_name); o.value = m; select.appendChild(o); });
    if (!models.includes(state.curveModel[t.task])) state.curveModel[t.task] = models[0];
    select.value = state.curveModel[t.task] || "";
    select.parentElement.hidden = models.length < 2;
    return models.length ? curves[state.curveModel[t.task]] : null;
  }

  function ciBars(points) {
    const out = [];
    points.forEach((p) => { if (num(p.ci_lo)) out.push({ x: p.n, y: p.ci_lo }, { x: p.n, y: p.ci_hi }, { x: p.n, y: null }); });
    return out;
  }

  function renderCurveChart(t, curve) {
    const pts = curve.points;
    const ns = pts.map((p) => p.n);
    const lo = Math.min(...ns) / 1.3, hi = Math.max(...ns) * 1.3;
    const datasets = [
      { label: "LoRA (mean over seeds)", data: pts.map((p) => ({ x: p.n, y: p.metric, seeds: p.n_seeds })), showLine: false,
        borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 5 },
      { label: "95% CI", data: ciBars(pts), borderColor: PALETTE[0], pointRadius: 0, borderWidth: 2, spanGaps: false },
    ];
    if (curve.fit && curve.fit.line) datasets.push({ label: "fit: " + curve.fit.formula,
      data: curve.fit.line.n.map((n, i) => ({ x: n, y: curve.fit.line.value[i] })), borderColor: PALETTE[3],
      pointRadius: 0, borderWidth: 1.5 });
    Object.entries(curve.api).forEach(([key, a], i) => {
      const col = PALETTE[(i + 1) % PALETTE.length];
      const best = key === curve.best_api;
      datasets.push({ label: a.display_name + " CI", data: [{ x: lo, y: a.ci_lo }, { x: hi, y: a.ci_lo }], borderWidth: 0,
                      pointRadius: 0, borderColor: col, fill: false });
      datasets.push({ label: a.display_name + " CI band", data: [{ x: lo, y: a.ci_hi }, { x: hi, y: a.ci_hi }], borderWidth: 0,
                      pointRadius: 0, borderColor: col, backgroundColor: col + "26", fill: "-1" });
      datasets.push({ label: a.display_name + (best ? " (best API)" : ""), data: [{ x: lo, y: a.metric }, { x: hi, y: a.metric }],
                      borderColor: col, borderDash: [6, 3], borderWidth: best ? 2 : 1, pointRadius: 0 });
    });
    const star = curve.n_star;
    if (star && num(star.value)) {
      const ys = pts.map((p) => p.ci_lo).concat(Object.values(curve.api).map((a) => a.ci_lo)).filter(num);
      const ymin = Math.min(...ys), ymax = Math.max(...pts.map((p) => p.ci_hi).filter(num), ...Object.values(curve.api).map((a) => a.ci_hi).filter(num));
      const ci = num(star.ci_lo) ? " (95% CI " + count(star.ci_lo) + "–" + (num(star.ci_hi) ? count(star.ci_hi) : "not reached") + ")" : "";
      datasets.push({ label: "N* = " + count(Math.ceil(star.value)) + ci, data: [{ x: star.value, y: ymin }, { x: star.value, y: ymax }],
                      borderColor: "#000", borderWidth: 2, pointRadius: 0, borderDash: [2, 2] });
      [star.ci_lo, star.ci_hi].filter(num).forEach((v) => datasets.push({ label: "N* CI bound", data: [{ x: v, y: ymin }, { x: v, y: ymax }],
        borderColor: "#868e96", borderWidth: 1, pointRadius: 0, borderDash: [1, 3] }));
    }
    chart("chart-curve", {
      type: "line", data: { datasets },
      options: { scales: {
        x: { type: "logarithmic", min: lo, max: hi, ticks: { callback: logTick((v) => v.toLocaleString("en-US")) },
             title: { display: true, text: "labelled training examples N" } },
        y: { title: { display: true, text: t.metric_label } } },
        plugins: { legend: { labels: { boxWidth: 12, font: { size: 10 },
                                       filter: (item) => !/ CI( band| bound)?$/.test(item.text) } },
                   tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + ": " + fmt(ctx.raw.y) + " at N=" + count(ctx.raw.x) } } } },
    });
  }

  function renderCurveTable(t, curve) {
    const fit = curve.fit || {};
    const against = ((curve.noninferiority || {})[curve.best_api] || {}).per_point || [];
    const costs = ((curve.costs || {}).per_point) || [];
    const rows = curve.points.map((p, i) => {
      const d = against.find((x) => x.n === p.n) || {};
      const c = costs.find((x) => x.n === p.n) || {};
      const v = p.variance || {};
      return [count(p.n), label(t.cells[p.variant]), String(p.n_seeds),
              fmt(p.metric) + " [" + fmt(p.ci_lo) + ", " + fmt(p.ci_hi) + "]",
              fit.fitted ? fmt(fit.fitted[i]) : "–", fit.residuals ? fmt(fit.residuals[i]) : "–",
              num(v.seeds) && v.total > 0 ? pct(v.seeds / v.total) : (p.n_seeds < 2 ? "one seed" : "–"),
              num(d.diff) ? fmt(d.diff) + " [" + fmt(d.ci_lo) + ", " + fmt(d.ci_hi) + "]" : "–",
              d.noninferior === undefined ? "–" : (d.noninferior ? "yes" : "no"),
              usd(c.labelling_usd), fmt(c.gpu_hours, 4), usd((c.training_once_usd || {})[state.scenario])];
    });
    (curve.skipped || []).forEach((p) => rows.push([count(p.n), p.variant, "", "skipped: " + p.reason, "", "", "", "", "", "", "", ""]));
    (curve.not_plotted || []).forEach((p) => rows.push(["–", p.variant, "", "not plotted: " + p.reason, "", "", "", "", "", "", "", ""]));
    const best = curve.api[curve.best_api] || {};
    fillTable(document.getElementById("curve-table"), ["N", "cell", "seeds", "metric [95% CI]", "fitted", "residual",
      "seed share of variance", "− " + (best.display_name || "best API") + " [CI]", "non-inferior", "labelling",
      "GPU-h / training", "training $ (" + state.scenario + ")"], rows);
    const star = curve.n_star || {};
    document.getElementById("curve-fit").textContent = (fit.form ? "Fit: " + fit.why + "; R² " +
      fmt(fit.r2) + ", RMSE " + fmt(fit.rmse) + ". " : (fit.why ? "No fit: " + fit.why + ". " : "")) +
      "Non-inferior: the lower 95% bound of (LoRA − API) stays above −" + curve.margin + " (run_defaults.noninferiority_margin). " +
      (star.interpolation ? "N*: " + star.interpolation + "; its CI from " + star.n_resamples + " joint bootstrap draws. " : "") +
      "Labelling " + (num((curve.costs || {}).label_cost_per_example) ? usd(curve.costs.label_cost_per_example) + "/example (" +
      curve.costs.label_cost_source + ")" : "not priced") + ".";
  }

  function renderSurface(curve) {
    const table = document.getElementById("surface");
    const note = document.getElementById("surface-corner");
    table.replaceChildren();
    const surface = curve.surface;
    const states = surface && surface.states[state.scenario];
    if (!states) {
      note.textContent = surface ? "No surface at the " + state.scenario + " scenario (no hourly rate)." : (curve.surface_reason || "No break-even surface.");
      return;
    }
    const head = table.appendChild(el("thead")).appendChild(el("tr"));
    head.appendChild(el("th", "N \\ queries/day", "text"));
    surface.volumes.forEach((v) => {
      const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
      head.appendChild(el("th", Math.abs(m - 1) < 1e-6 ? (v >= 1e6 ? v / 1e6 + "M" : v >= 1e3 ? v / 1e3 + "k" : String(v)) : "", "vol"));
    });
    const body = table.appendChild(el("tbody"));
    const star = curve.n_star && curve.n_star.value;
    surface.n.map((n, i) => [n, i]).reverse().forEach(([n, i]) => {
      const tr = body.appendChild(el("tr"));
      tr.appendChild(el("th", "N=" + count(n) + (num(star) && n === Math.ceil(star) ? " (N*)" : ""), "text"));
      states[i].forEach((s, j) => {
        const td = tr.appendChild(el("td", undefined, "s-" + s));
        td.title = "N=" + count(n) + ", " + count(surface.volumes[j]) + " queries/day: " + SURFACE_TEXT[s];
      });
    });
    const corner = surface.corner[state.scenario];
    note.textContent = corner && num(corner.always_cheaper_above)
      ? "At " + state.scenario + " GPU prices: non-inferior and cheaper from N=" + count(corner.n) + " and " +
        vol(corner.always_cheaper_above) + " on (first cheaper at " + vol(corner.daily_volume) + "; whole GPUs make the edge step)."
      : corner ? "At " + state.scenario + " GPU prices, self-hosting never costs less than the API: " + (corner.reason || "")
               : "Never non-inferior with the data available: no volume makes fine-tuning win.";
  }

  function renderCurve(t) {
    const curve = renderCurveControls(t);
    const has = curve && curve.status === "ok";
    document.getElementById("curve-body").hidden = !has;
    document.getElementById("curve-verdict").textContent = curve ? curve.verdict : "No LoRA cell for this task.";
    if (!has) {
      if (charts["chart-curve"]) { charts["chart-curve"].destroy(); delete charts["chart-curve"]; }
      return;
    }
    renderCurveChart(t, curve); renderCurveTable(t, curve); renderSurface(curve);
  }

  function render() {
    const t = task();
    document.getElementById("task-title").textContent = t.name;
    document.getElementById("task-desc").textContent = "Metric: " + t.metric_label + ". Cost per 1k correct counts " +
      t.accuracy_basis + ". TCO at " + t.default_daily_volume.toLocaleString("en-US") + " queries/day.";
    document.getElementById("scenario-note").textContent = Object.entries(D.pricing.hardware)
      .map(([h, r]) => h + " " + usd(r[state.scenario]) + "/h").join(" · ");
    const msgs = t.flags.map((f) => f === "partial_data" ? "Partial data: " + (t.partial_reason || "") :
      f === "stand_in" ? "Some API cells were answered by a local stand-in, not the API." :
      f === "incomplete" ? "Some cells are incomplete (too many questions without an answer): shown with their " +
        "missing share, left out of every comparison, the Pareto front and the curves." : "Smoke profile: not results.");
    flagList(document.getElementById("task-flags"), msgs);
    renderLeaderboard(t); renderScatter(t); renderTco(t); renderErrors(t); renderLatency(t); renderLoss(t);
    renderComparisons(t); renderBreakEven(t); renderCurve(t); renderSamples(t);
  }

  renderHeader();
  renderControls();
  renderCross();
  render();
})();
