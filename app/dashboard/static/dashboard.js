// Byline dashboard: asks for a stats key, then draws /v1/stats/* with Chart.js.
// All text from the API goes into the page through textContent (never innerHTML), and
// Chart.js draws labels on canvas, so no article, key or URL text is ever parsed as HTML.
"use strict";

(function () {
  const KEY_STORE = "byline.statsKey";
  const PALETTE = ["#1f5fbf", "#e07b00", "#2a9d5b", "#b3261e", "#7b4fbf", "#00838f",
    "#c2185b", "#6d7a00", "#5d4037", "#455a64"];
  const STATUS_COLOURS = { 2: "#2a9d5b", 3: "#1f5fbf", 4: "#e07b00", 5: "#b3261e" };
  // Axis labels are cut to fit (tables and tooltips keep the whole text): a horizontal bar
  // chart gives its labels no more than about a third of a phone's width.
  const LABEL_MAX = 40;
  const LABEL_MAX_NARROW = 16;
  const NARROW = 520; // px of chart width

  const $ = (id) => document.getElementById(id);

  /** The API refused the key (401 or 403): ask for another one. */
  class KeyRefused extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  /** Any other failed call: shown in the panel it belongs to. */
  class ApiError extends Error {}

  // ---- the key

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORE);
    } catch (e) {
      return null; // storage blocked: the page still works for this load
    }
  }

  let keyInMemory = null;

  function currentKey() {
    return storedKey() || keyInMemory;
  }

  function keepKey(key) {
    keyInMemory = key;
    try {
      sessionStorage.setItem(KEY_STORE, key);
    } catch (e) { /* storage blocked: keep it in memory only */ }
  }

  function forgetKey() {
    keyInMemory = null;
    try {
      sessionStorage.removeItem(KEY_STORE);
    } catch (e) { /* nothing stored */ }
  }

  function askForKey(message) {
    forgetKey();
    destroyCharts();
    $("board").hidden = true;
    $("tools").hidden = true;
    $("key-panel").hidden = false;
    const note = $("key-message");
    note.textContent = message || "";
    note.hidden = !message;
    const input = $("stats-key");
    input.value = "";
    input.focus();
  }

  // ---- the API

  async function problemDetail(response) {
    try {
      const body = await response.json();
      return typeof body.detail === "string" ? body.detail : (body.title || "");
    } catch (e) {
      return "";
    }
  }

  async function api(path, params) {
    // Relative to the page, not the origin: behind a proxy that serves Byline under a path
    // prefix, /prefix/dashboard must call /prefix/v1/… (and without one, /v1/…).
    const url = new URL(path.replace(/^\//, ""), document.baseURI);
    for (const [name, value] of Object.entries(params || {})) url.searchParams.set(name, value);
    let response;
    try {
      response = await fetch(url, {
        headers: { Authorization: "Bearer " + currentKey(), Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      // A key with characters no HTTP header may hold fails here, before any request.
      if (e instanceof TypeError && !/^[\x21-\x7e]+$/.test(currentKey() || "")) {
        throw new KeyRefused(0, "That is not a valid key.");
      }
      throw new ApiError("The server could not be reached (" + e.message + ").");
    }
    if (response.status === 401 || response.status === 403) {
      throw new KeyRefused(response.status, await problemDetail(response));
    }
    if (!response.ok) {
      const detail = await problemDetail(response);
      throw new ApiError("The server answered " + response.status + (detail ? ": " + detail : "."));
    }
    return response.json();
  }

  // ---- drawing helpers

  function setError(panel, message) {
    const box = document.querySelector('[data-error-for="' + panel + '"]');
    box.textContent = message || "";
    box.hidden = !message;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  /** Replace a table's rows: each row is a list of cells (a cell is text or a <td>). */
  function fillTable(id, rows, numericColumns) {
    const body = $(id).tBodies[0];
    const columns = $(id).tHead.rows[0].cells.length;
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = body.insertRow();
      const td = cell("Nothing yet.", "empty");
      td.colSpan = columns;
      tr.append(td);
      return;
    }
    for (const row of rows) {
      const tr = body.insertRow();
      row.forEach((value, i) => {
        tr.append(value instanceof HTMLElement ? value : cell(value, numericColumns.includes(i) ? "num" : ""));
      });
    }
  }

  function shortLabel(text, chartWidth) {
    const s = String(text);
    const max = chartWidth < NARROW ? LABEL_MAX_NARROW : LABEL_MAX;
    return s.length > max ? s.slice(0, max - 1) + "…" : s;
  }

  function destroyCharts() {
    document.querySelectorAll("canvas").forEach((canvas) => {
      const chart = window.Chart && Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  /** Draw (or redraw) the chart on canvas `id`; the data stays readable via Chart.getChart. */
  function draw(id, type, labels, datasets, options) {
    const canvas = $(id);
    const old = Chart.getChart(canvas);
    if (old) old.destroy();
    const horizontal = options && options.horizontal;
    const stacked = options && options.stacked;
    return new Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        responsive: true,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 300 },
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: { callbacks: { title: (items) => items.length ? String(labels[items[0].dataIndex]) : "" } },
        },
        scales: {
          [horizontal ? "x" : "y"]: { beginAtZero: true, stacked: !!stacked, ticks: { precision: 0 } },
          [horizontal ? "y" : "x"]: {
            stacked: !!stacked,
            ticks: { autoSkip: !horizontal, callback: function (value) { return shortLabel(this.getLabelForValue(value), this.chart.width); } },
          },
        },
      },
    });
  }

  function dataset(label, data, colour) {
    return { label: label, data: data, backgroundColor: colour, borderColor: colour, borderWidth: 1 };
  }

  function when(iso) {
    if (!iso) return cell("—");
    const td = document.createElement("td");
    const time = document.createElement("time");
    time.dateTime = iso;
    time.textContent = new Date(iso).toLocaleString();
    time.title = iso;
    td.append(time);
    return td;
  }

  // ---- the panels: each fetches its endpoint and draws it

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  const panels = {
    async overview() {
      const body = await api("/v1/stats/overview");
      document.querySelectorAll("#overview [data-field]").forEach((dd) => {
        const value = dd.dataset.field.split(".").reduce((obj, part) => (obj == null ? obj : obj[part]), body);
        dd.textContent = value == null ? "–" : String(value);
      });
    },

    async publishing() {
      const interval = $("publishing-interval").value;
      const params = { interval: interval };
      if (interval === "week") {
        const today = new Date();
        params.to = isoDay(today);
        // From a Monday (UTC), as the API's weeks are: any other day would make the
        // first bar, labelled with its Monday, count only part of its week.
        const start = new Date(today.getTime() - 25 * 7 * 86400000);
        params.from = isoDay(new Date(start.getTime() - ((start.getUTCDay() + 6) % 7) * 86400000));
      }
      const body = await api("/v1/stats/publishing", params);
      $("publishing-unit").textContent = body.interval === "week" ? "week" : "day";
      const labels = body.data.map((p) => p.period);
      const counts = body.data.map((p) => p.count);
      draw("chart-publishing", "bar", labels, [dataset("Articles", counts, PALETTE[0])]);
      fillTable("table-publishing", body.data.map((p) => [p.period, p.count]), [1]);
    },

    async categories() {
      const body = await api("/v1/stats/categories");
      draw("chart-categories", "bar", body.data.map((c) => c.name),
        [dataset("Articles", body.data.map((c) => c.count), PALETTE[1])], { horizontal: true });
      fillTable("table-categories", body.data.map((c) => [c.name, c.count]), [1]);
    },

    async authors() {
      const body = await api("/v1/stats/authors", { limit: 10 });
      draw("chart-authors", "bar", body.data.map((a) => a.name),
        [dataset("Articles", body.data.map((a) => a.count), PALETTE[2])], { horizontal: true });
      fillTable("table-authors", body.data.map((a) => [a.name, a.count]), [1]);
    },

    async usage() {
      const body = await api("/v1/stats/usage");
      const keyName = (row) => (row.key_id === null ? "anonymous" : (row.key_name || row.key_id));
      // Chart: one bar per key, stacked by status; table: key × endpoint × status over the days.
      const keys = [];
      const statuses = [];
      const byKeyStatus = new Map();
      const byRow = new Map();
      for (const row of body.data) {
        const key = keyName(row);
        if (!keys.includes(key)) keys.push(key);
        if (!statuses.includes(row.status)) statuses.push(row.status);
        const ks = key + "\u0000" + row.status;
        byKeyStatus.set(ks, (byKeyStatus.get(ks) || 0) + row.count);
        const rk = JSON.stringify([key, row.endpoint, row.status]);
        byRow.set(rk, (byRow.get(rk) || 0) + row.count);
      }
      keys.sort();
      statuses.sort((a, b) => a - b);
      const sets = statuses.map((status, i) => dataset(String(status),
        keys.map((key) => byKeyStatus.get(key + "\u0000" + status) || 0),
        STATUS_COLOURS[Math.floor(status / 100)] || PALETTE[i % PALETTE.length]));
      sets.forEach((set, i) => {
        // Several statuses of one class: vary the shade so the stack stays readable.
        set.backgroundColor = set.borderColor = shade(set.backgroundColor, statuses, i);
      });
      draw("chart-usage", "bar", keys, sets, { stacked: true, horizontal: true });
      const rows = [...byRow.entries()]
        .map(([k, count]) => [...JSON.parse(k), count])
        .sort((a, b) => b[3] - a[3] || String(a[0]).localeCompare(String(b[0])) ||
          String(a[1]).localeCompare(String(b[1])) || a[2] - b[2]);
      fillTable("table-usage", rows, [2, 3]);
    },

    async "most-read"() {
      const body = await api("/v1/stats/most-read", { period: $("most-read-period").value, limit: 10 });
      draw("chart-most-read", "bar", body.data.map((r) => r.article.headline),
        [dataset("Views", body.data.map((r) => r.views), PALETTE[4])], { horizontal: true });
      fillTable("table-most-read", body.data.map((r) => [
        r.article.headline, r.article.category ? r.article.category.name : "", r.views]), [2]);
    },

    async webhooks() {
      const body = await api("/v1/stats/webhooks");
      const labels = body.data.map((w) => w.url);
      draw("chart-webhooks", "bar", labels, [
        dataset("Delivered 24 h", body.data.map((w) => w.delivered_24h), "#2a9d5b"),
        dataset("Failed 24 h", body.data.map((w) => w.failed_24h), "#b3261e"),
        dataset("Pending", body.data.map((w) => w.pending), "#e07b00"),
      ], { stacked: true, horizontal: true });
      fillTable("table-webhooks", body.data.map((w) => {
        const status = document.createElement("td");
        const badge = document.createElement("span");
        // Only known statuses become class names; anything else is shown plainly.
        const known = ["active", "failing", "disabled"].includes(w.status);
        badge.className = "badge " + (known ? w.status : "");
        badge.textContent = w.status;
        status.append(badge);
        return [cell(w.url, "url"), status, w.pending, w.delivered_24h, w.failed_24h,
          when(w.failing_since), when(w.last_success_at)];
      }), [2, 3, 4]);
    },
  };

  function shade(colour, statuses, index) {
    const klass = Math.floor(statuses[index] / 100);
    const siblings = statuses.filter((s) => Math.floor(s / 100) === klass);
    const position = siblings.indexOf(statuses[index]);
    if (siblings.length < 2) return colour;
    const alpha = Math.round(255 * (1 - 0.55 * position / (siblings.length - 1)));
    return colour + alpha.toString(16).padStart(2, "0");
  }

  // ---- loading

  let loading = null;

  async function runPanel(name) {
    try {
      await panels[name]();
      setError(name, "");
    } catch (e) {
      if (e instanceof KeyRefused) throw e;
      setError(name, e instanceof ApiError ? e.message : "This panel could not be drawn (" + e + ").");
    }
  }

  function refusal(e) {
    if (e.status === 0) return e.message;
    const what = e.status === 401 ? "This key is unknown or revoked (401)." :
      "This key lacks the stats scope (403).";
    return what + (e.message ? " " + e.message : "") + " Enter a key with the stats scope.";
  }

  async function load(names) {
    if (!currentKey()) {
      askForKey("");
      return;
    }
    $("key-panel").hidden = true;
    $("board").hidden = false;
    $("tools").hidden = false;
    document.body.dataset.state = "loading";
    const results = await Promise.allSettled((names || Object.keys(panels)).map(runPanel));
    const refused = results.find((r) => r.status === "rejected" && r.reason instanceof KeyRefused);
    if (refused) {
      document.body.dataset.state = "refused";
      askForKey(refusal(refused.reason));
      return;
    }
    $("updated").textContent = "Updated " + new Date().toLocaleTimeString();
    document.body.dataset.state = "ready";
  }

  function reload(names) {
    // One load at a time; a click during a load waits for it instead of racing it.
    loading = (loading || Promise.resolve()).then(() => load(names));
    return loading;
  }

  function start() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("stats-key").value.trim();
      if (!key) return;
      keepKey(key);
      $("stats-key").value = "";
      $("key-message").hidden = true;
      reload();
    });
    $("refresh").addEventListener("click", () => reload());
    $("forget").addEventListener("click", () => askForKey(""));
    $("publishing-interval").addEventListener("change", () => reload(["publishing"]));
    $("most-read-period").addEventListener("change", () => reload(["most-read"]));
    if (typeof window.Chart !== "function") {
      askForKey("The chart library did not load; reload the page.");
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    reload();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
