// fake-sentry web UI: copy buttons, live updates of the event and trace lists, row selection
// for comparing, and keyboard shortcuts. Served as a static file: the pages' Content-Security-Policy
// allows no inline script. Captured values are only ever put into the page as text
// (textContent), never as HTML; the one exception is the trace list's rows, which are the
// server's own escaped rendering of the same page, fetched again.
"use strict";

(function () {
  const MAX_LIVE_ROWS = 500;
  const MAX_SUMMARY = 300;

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }
  function $all(selector, root) {
    return Array.from((root || document).querySelectorAll(selector));
  }

  // ---- copy buttons ------------------------------------------------------------------------
  function copyText(text, button) {
    const done = () => {
      const label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(() => {
        button.textContent = label;
        button.classList.remove("copied");
      }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  }
  function fallbackCopy(text, done) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
      done();
    } finally {
      area.remove();
    }
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const target = document.getElementById(button.dataset.copyTarget);
    if (target) copyText(target.textContent, button);
  });

  // ---- rows: click to open, select for comparing ---------------------------------------------
  const rows = $("#rows");
  const compareButton = $("#compare-button");

  function updateCompare() {
    if (!compareButton) return;
    const picked = $all('input[name="pick"]:checked').length;
    compareButton.disabled = picked !== 2;
    compareButton.textContent = picked ? `Compare selected (${picked}/2)` : "Compare selected";
  }
  if (rows) {
    rows.addEventListener("change", updateCompare);
    rows.addEventListener("click", (event) => {
      if (event.target.closest("a, input, button, label")) return;
      const row = event.target.closest("tr[data-href]");
      if (row) window.location.href = row.dataset.href;
    });
    updateCompare();
  }

  // ---- live updates ------------------------------------------------------------------------
  const live = $("#live");
  let paused = false;
  let pending = [];
  let source = null;

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined && text !== null) td.textContent = text;
    return td;
  }
  function badge(text, prefix) {
    const span = document.createElement("span");
    span.className = `${prefix} ${prefix}-${text}`;
    span.textContent = text;
    return span;
  }
  function rowFor(item) {
    const tr = document.createElement("tr");
    tr.dataset.href = `/items/${encodeURIComponent(item.id)}`;
    tr.dataset.seq = String(item.seq);
    tr.className = "fresh";

    const pickCell = cell();
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.name = "pick";
    pick.value = item.id;
    pick.setAttribute("form", "compare-form");
    pick.setAttribute("aria-label", "select for comparing");
    pickCell.appendChild(pick);
    tr.appendChild(pickCell);

    const timeCell = cell();
    const time = document.createElement("time");
    time.dateTime = item.received_at;
    time.title = item.received_at;
    time.textContent = String(item.received_at || "").replace("T", " ").slice(0, 19);
    timeCell.appendChild(time);
    tr.appendChild(timeCell);

    tr.appendChild(cell(String(item.project_id)));
    const typeCell = cell();
    typeCell.appendChild(badge(item.type, "type"));
    tr.appendChild(typeCell);
    const levelCell = cell();
    if (item.level) levelCell.appendChild(badge(item.level, "level"));
    tr.appendChild(levelCell);

    const summaryCell = cell(undefined, "summary");
    const link = document.createElement("a");
    link.href = tr.dataset.href;
    const summary = String(item.summary || "");
    link.textContent = summary.length > MAX_SUMMARY ? summary.slice(0, MAX_SUMMARY) + "…" : summary;
    summaryCell.appendChild(link);
    if (item.decode_error) {
      const warn = document.createElement("span");
      warn.className = "badge warn";
      warn.textContent = "decode error";
      summaryCell.append(" ", warn);
    }
    tr.appendChild(summaryCell);

    const sdk = item.sdk ? [item.sdk.name, item.sdk.version].filter(Boolean).join(" ") : "";
    tr.appendChild(cell(sdk));
    tr.appendChild(cell(item.release || ""));
    tr.appendChild(cell(item.environment || ""));
    return tr;
  }
  function bumpCount(element) {
    if (!element) return;
    const n = parseInt(element.textContent, 10);
    if (!Number.isNaN(n)) element.textContent = String(n + 1);
  }
  function show(item) {
    const empty = $("#empty");
    if (empty) empty.remove();
    rows.insertBefore(rowFor(item), rows.firstChild);
    while (rows.children.length > MAX_LIVE_ROWS) rows.lastElementChild.remove();
    bumpCount($("#total"));
    const chip = $all(".chips a[data-type]").find((a) => a.dataset.type === item.type);
    if (chip) bumpCount($("b", chip));
  }
  function setStatus(text, state) {
    $("#live-status").textContent = text;
    live.dataset.state = state;
  }
  function statusNow() {
    if (paused) {
      setStatus(pending.length ? `paused: ${pending.length} new` : "paused", "paused");
    } else {
      setStatus("live", "live");
    }
  }
  function togglePause() {
    if (!live) return;
    paused = !paused;
    const button = $("#live-toggle");
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      pending.forEach(show);
      pending = [];
    }
    statusNow();
  }
  if (live && rows && "EventSource" in window) {
    source = new EventSource(live.dataset.stream);
    source.addEventListener("open", statusNow);
    source.addEventListener("error", () => setStatus("reconnecting…", "error"));
    source.addEventListener("item", (event) => {
      let item;
      try {
        item = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (paused) {
        pending.push(item);
        statusNow();
      } else {
        show(item);
      }
    });
    $("#live-toggle").addEventListener("click", togglePause);
    window.addEventListener("pagehide", () => source.close());
  }

  // ---- live updates of the trace list ------------------------------------------------------
  // Any new item may start or grow a trace, so the page's own rows are fetched again (the same
  // server-rendered, escaped HTML a reload gives; parsed inert by DOMParser, never run) and
  // swapped in; rows of traces not shown before are marked fresh.
  const traceLive = $("#trace-live");
  const traceRows = $("#trace-rows");
  if (traceLive && traceRows && "EventSource" in window) {
    let tracesPaused = false;
    let stale = false;
    let timer = null;
    let fetching = false;
    const status = (text, state) => {
      $("#trace-live-status").textContent = text;
      traceLive.dataset.state = state;
    };
    const statusNow = () =>
      tracesPaused ? status(stale ? "paused: new data" : "paused", "paused") : status("live", "live");
    async function refresh() {
      timer = null;
      if (fetching) {
        timer = setTimeout(refresh, 200);
        return;
      }
      fetching = true;
      stale = false;
      try {
        const response = await fetch(traceLive.dataset.refresh, { headers: { accept: "text/html" } });
        if (!response.ok) throw new Error(`the trace list answered ${response.status}`);
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = doc.getElementById("trace-rows");
        if (!fresh) return;
        const current = $("#trace-rows");
        const known = new Set($all("tr[data-trace]", current).map((tr) => tr.dataset.trace));
        const adopted = document.importNode(fresh, true);
        $all("tr[data-trace]", adopted).forEach((tr) => {
          if (!known.has(tr.dataset.trace)) tr.classList.add("fresh");
        });
        current.replaceWith(adopted);
        const empty = $("#empty");
        if (empty && adopted.children.length) empty.remove();
        const count = $("#trace-count");
        if (count) count.textContent = String(adopted.children.length);
        statusNow();
      } catch (_) {
        status("reconnecting…", "error");
      } finally {
        fetching = false;
      }
    }
    const schedule = () => {
      if (tracesPaused) {
        stale = true;
        statusNow();
      } else if (!timer) {
        timer = setTimeout(refresh, 250);
      }
    };
    const traceSource = new EventSource(traceLive.dataset.stream);
    traceSource.addEventListener("open", statusNow);
    traceSource.addEventListener("error", () => status("reconnecting…", "error"));
    traceSource.addEventListener("item", schedule);
    $("#trace-live-toggle").addEventListener("click", () => {
      tracesPaused = !tracesPaused;
      const button = $("#trace-live-toggle");
      button.textContent = tracesPaused ? "Resume" : "Pause";
      button.setAttribute("aria-pressed", String(tracesPaused));
      if (!tracesPaused && stale) refresh();
      statusNow();
    });
    traceRows.closest("table").addEventListener("click", (event) => {
      if (event.target.closest("a, input, button, label")) return;
      const row = event.target.closest("tr[data-href]");
      if (row) window.location.href = row.dataset.href;
    });
    window.addEventListener("pagehide", () => traceSource.close());
  }

  // ---- keyboard ----------------------------------------------------------------------------
  let selected = -1;
  function select(index) {
    const all = rows ? $all("tr", rows) : [];
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((tr, i) => tr.classList.toggle("selected", i === selected));
    all[selected].scrollIntoView({ block: "nearest" });
  }
  function selectedRow() {
    return rows ? $all("tr", rows)[selected] : undefined;
  }
  const dialog = $("#shortcuts");
  const openHelp = () => dialog && dialog.showModal && dialog.showModal();
  const helpButton = $("#shortcuts-open");
  if (helpButton) helpButton.addEventListener("click", openHelp);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const go = (selector) => {
      const link = $(selector);
      if (link) window.location.href = link.getAttribute("href");
    };
    switch (event.key) {
      case "/": {
        const search = $("#search");
        if (search) {
          event.preventDefault();
          search.focus();
          search.select();
        }
        break;
      }
      case "j":
        select(selected + 1);
        break;
      case "k":
        select(selected - 1);
        break;
      case "Enter": {
        const row = selectedRow();
        if (row) window.location.href = row.dataset.href;
        break;
      }
      case "x": {
        const row = selectedRow();
        const box = row && $('input[name="pick"]', row);
        if (box) {
          box.checked = !box.checked;
          updateCompare();
        }
        break;
      }
      case "p":
        togglePause();
        break;
      case "[":
        go("#newer");
        break;
      case "]":
        go("#older");
        break;
      case "g":
        window.location.href = "/";
        break;
      case "?":
        openHelp();
        break;
      default:
        return;
    }
  });
})();
