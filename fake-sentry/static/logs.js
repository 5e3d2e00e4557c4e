// The /logs page's live tail: listens to /api/logs/stream/ (with the page's filters, starting
// after the newest entry the page showed) and puts each new entry at the top. Everything an
// entry holds came from an SDK: it is only ever set as text, never as HTML.
(() => {
  "use strict";
  const MAX_ROWS = 500;
  const live = document.getElementById("log-live");
  const rows = document.getElementById("log-rows");
  if (!live || !rows || !("EventSource" in window)) return;
  const status = document.getElementById("log-live-status");
  const setStatus = (text, state) => {
    status.textContent = text;
    live.dataset.state = state;
  };
  const hex = /^[0-9a-f]+$/;

  function cell(text, className) {
    const td = document.createElement("td");
    if (text !== undefined) td.textContent = text;
    if (className) td.className = className;
    return td;
  }
  function attributeText(attribute) {
    const value = attribute && typeof attribute === "object" && "value" in attribute ? attribute.value : attribute;
    return typeof value === "string" ? value : JSON.stringify(value);
  }
  function rowFor(entry) {
    const tr = document.createElement("tr");
    tr.dataset.logId = String(entry.id);
    const timeCell = cell();
    const time = document.createElement("time");
    time.dateTime = String(entry.time || "");
    time.title = String(entry.time || "");
    time.textContent = String(entry.time || "").replace("T", " ").replace(/Z$/, "").slice(0, 23);
    timeCell.appendChild(time);
    tr.appendChild(timeCell);

    const levelCell = cell();
    const level = document.createElement("span");
    level.className = "level";
    if (/^[a-z]+$/.test(String(entry.level))) level.classList.add(`level-${entry.level}`);
    level.textContent = String(entry.level || "");
    levelCell.appendChild(level);
    tr.appendChild(levelCell);

    tr.appendChild(cell(String((entry.service && entry.service.name) || ""), "service"));

    const bodyCell = cell(undefined, "summary log-body");
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = String(entry.body || "");
    bodyCell.appendChild(body);
    const attributes = entry.attributes && typeof entry.attributes === "object" ? Object.entries(entry.attributes) : [];
    if (attributes.length) {
      const details = document.createElement("details");
      details.className = "attributes";
      const summary = document.createElement("summary");
      summary.textContent = `${attributes.length} attributes`;
      details.appendChild(summary);
      const list = document.createElement("dl");
      list.className = "kv";
      for (const [key, attribute] of attributes) {
        const dt = document.createElement("dt");
        dt.textContent = key;
        const dd = document.createElement("dd");
        dd.textContent = attributeText(attribute);
        list.append(dt, dd);
      }
      details.appendChild(list);
      bodyCell.append(" ", details);
    }
    tr.appendChild(bodyCell);

    const traceCell = cell();
    const traceId = String(entry.trace_id || "");
    if (traceId.length === 32 && hex.test(traceId)) {
      const link = document.createElement("a");
      link.className = "trace-link";
      link.href = `/traces/${traceId}`;
      link.title = traceId;
      link.textContent = traceId.slice(0, 8);
      traceCell.appendChild(link);
    }
    tr.appendChild(traceCell);

    const itemCell = cell();
    const itemId = String(entry.item_id || "");
    if (/^[0-9a-f-]+$/.test(itemId)) {
      const link = document.createElement("a");
      link.className = "item-link";
      link.href = `/items/${itemId}`;
      link.textContent = "item";
      itemCell.appendChild(link);
    }
    const project = document.createElement("span");
    project.className = "muted";
    project.textContent = `p${Number(entry.project_id)}`;
    itemCell.append(" ", project);
    tr.appendChild(itemCell);
    return tr;
  }

  const source = new EventSource(live.dataset.stream);
  source.addEventListener("open", () => setStatus("live", "live"));
  source.addEventListener("error", () => setStatus("reconnecting…", "error"));
  source.addEventListener("log", (event) => {
    let entry;
    try {
      entry = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    const empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    rows.insertBefore(rowFor(entry), rows.firstChild);
    while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
  });
  window.addEventListener("pagehide", () => source.close());
})();
