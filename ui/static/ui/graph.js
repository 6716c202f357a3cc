// The user's memory graph. Cytoscape.js draws graph.json (memories, the entities they name as hubs,
// and the edges between them) with the fcose layout; the filters and the time slider re-fetch it.
// Labels are short and never overlap (a label that would is hidden; the full text shows on hover and
// in the side panel). Search highlights matching nodes and their neighbours. The timeline strip marks
// every change (from the page's "graph-events" JSON); moving the slider lists what changed between
// the two moments and rings the nodes that came in. Clicking a memory loads its panel via htmx.
(function () {
  "use strict";
  const root = document.getElementById("graph");
  if (!root || !window.cytoscape) return;
  const ZERO = "00000000-0000-0000-0000-000000000000";
  const $ = (id) => document.getElementById(id);
  const slider = $("as-of");
  const label = $("as-of-label");
  const counts = $("graph-counts");
  const truncated = $("graph-truncated");
  const search = $("graph-search");
  const tip = $("graph-tip");
  const panel = () => $("memory-panel");
  const filters = ["entity", "category", "agent", "relation"].map((id) => $(id));
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf"];
  const KINDS = { person: "#8e44ad", place: "#2e8b57", organisation: "#d35400", thing: "#5d6d7e" };
  const SHORT = 28;
  const selfName = (root.dataset.user || "").toLowerCase();
  const events = JSON.parse($("graph-events").textContent).map((e) => Object.assign(e, { t: Date.parse(e.at) / 1000 }));

  function colour(category) {
    if (!category) return "#9aa0a6";
    let hash = 0;
    for (const ch of category) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return palette[hash % palette.length];
  }

  function shorten(text) {
    // In a user's own graph "Alice likes ramen" and "User likes ramen" say "likes ramen".
    let short = text;
    const first = text.split(/\s+/, 1)[0].toLowerCase();
    if (first === "user" || (selfName && first === selfName)) short = text.slice(first.length).trim();
    return short.length > SHORT ? short.slice(0, SHORT - 1).trimEnd() + "…" : short;
  }

  let labelScale = 1; // see scaleLabels
  const cy = cytoscape({
    container: $("cy"),
    minZoom: 0.05,
    maxZoom: 4,
    textureOnViewport: true,
    hideEdgesOnViewport: true,
    style: [
      { selector: "node", style: {
        label: "data(short)", "font-size": (node) => (node.data("kind") === "entity" ? 12 : 10) * labelScale,
        color: "#222", "text-valign": "bottom", "text-margin-y": 2,
        "text-background-color": "#fff", "text-background-opacity": 0.75, "text-background-padding": 1,
        "min-zoomed-font-size": 0 } },
      { selector: "node.memory", style: { "background-color": "data(color)", width: 16, height: 16 } },
      { selector: "node.entity", style: {
        "background-color": "data(color)", shape: "round-diamond", width: "data(size)", height: "data(size)",
        "font-weight": "bold", "border-width": 2, "border-color": "#fff" } },
      { selector: "node.entity.person", style: { shape: "ellipse" } },
      { selector: "node.entity.place", style: { shape: "round-triangle" } },
      { selector: "node.entity.organisation", style: { shape: "round-rectangle" } },
      { selector: "node.superseded", style: { opacity: 0.4, "border-width": 1, "border-style": "dashed", "border-color": "#555" } },
      { selector: "node.label-hidden", style: { "text-opacity": 0, "text-background-opacity": 0 } },
      { selector: "node.fresh", style: { "border-width": 4, "border-color": "#2e9e44", "border-style": "solid" } },
      { selector: "node.hit", style: { "border-width": 4, "border-color": "#f2b100", "border-style": "solid", "z-index": 10 } },
      { selector: ".dim", style: { opacity: 0.12 } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#111" } },
      { selector: "edge", style: {
        width: 1.2, "line-color": "#9aa0a6", "target-arrow-color": "#9aa0a6", "target-arrow-shape": "triangle",
        "arrow-scale": 0.7, "curve-style": "straight", opacity: 0.8 } },
      { selector: 'edge[relation = "related_to"]', style: { "line-color": "#4e79a7", "target-arrow-color": "#4e79a7" } },
      { selector: 'edge[relation = "supersedes"]', style: {
        width: 2, "line-style": "dashed", "line-color": "#e15759", "target-arrow-color": "#e15759" } },
      { selector: 'edge[relation = "mentions"]', style: {
        width: 1, "line-color": "#b4b9bf", "target-arrow-shape": "none", "line-style": "dotted", opacity: 1 } },
      { selector: "edge.hover, edge:selected", style: { label: "data(label)", "font-size": 8, "text-rotation": "autorotate", color: "#333" } },
      { selector: "edge.near", style: { opacity: 1, width: 2 } },
    ],
  });
  window.memGraph = cy;

  // --- time ---------------------------------------------------------------------------------
  const min = Number(slider.min);
  const max = Number(slider.max);

  function asOf() {
    return Number(slider.value) >= max ? null : new Date(Number(slider.value) * 1000).toISOString();
  }

  function when(seconds) {
    return seconds >= max ? "now" : new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function showMoment() {
    label.textContent = when(Number(slider.value));
    $("timeline-now").style.left = ((Number(slider.value) - min) / Math.max(1, max - min)) * 100 + "%";
  }

  function drawTimeline() {
    // One mark per kind and per 0.25% of the strip (a thousand changes stay a few hundred elements).
    const buckets = new Map();
    for (const e of events) {
      const kind = e.kind === "ended" ? "superseded" : e.kind;
      const at = Math.round(((e.t - min) / Math.max(1, max - min)) * 400) / 4;
      const key = kind + ":" + at;
      if (!buckets.has(key)) buckets.set(key, { kind: kind, at: at, items: [] });
      buckets.get(key).items.push(e);
    }
    const marks = $("timeline-marks");
    const fragment = document.createDocumentFragment();
    for (const bucket of buckets.values()) {
      const mark = document.createElement("span");
      mark.className = "mark " + bucket.kind;
      mark.style.left = Math.min(100, Math.max(0, bucket.at)) + "%";
      mark.title = bucket.items.length + " " + bucket.kind + ": " + bucket.items.slice(0, 3).map((e) => e.text).join("; ");
      fragment.appendChild(mark);
    }
    marks.replaceChildren(fragment);
    root.dataset.marks = String(buckets.size);
  }

  function describe(e) {
    if (e.kind === "added") return ["appeared", "“" + e.text + "”"];
    if (e.kind === "superseded") return ["superseded", "“" + e.text + "” by “" + e.by_text + "”"];
    if (e.kind === "ended") return ["ended", "“" + e.text + "” stopped holding"];
    return ["expired", "“" + e.text + "”"];
  }

  // What changed between the moment the graph showed and the one it shows now (either direction).
  function listChanges(from, to) {
    const box = $("graph-changes");
    if (from === null || from === to) { box.hidden = true; return []; }
    const lo = Math.min(from, to);
    const hi = Math.max(from, to);
    const found = events.filter((e) => e.t > lo && e.t <= hi);
    const list = $("graph-changes-list");
    const forward = to > from;
    $("graph-changes-title").textContent = (forward ? "Changes from " : "Going back from ") + when(from) + " to " + when(to)
      + ": " + found.length + (forward ? "" : " undone");
    list.replaceChildren(...found.slice(0, 40).map((e) => {
      const [kind, text] = describe(e);
      const item = document.createElement("li");
      item.className = "change " + e.kind;
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = kind;
      const time = document.createElement("time");
      time.className = "muted";
      time.dateTime = e.at;
      time.textContent = e.at.slice(0, 10);
      item.append(badge, " ", time, " ", text);
      return item;
    }));
    if (found.length > 40) {
      const more = document.createElement("li");
      more.className = "muted";
      more.textContent = "and " + (found.length - 40) + " more";
      list.appendChild(more);
    }
    box.hidden = false;
    // The nodes that came in: going forward, what appeared and what replaced something; going back,
    // what had been superseded or had expired in between.
    const fresh = new Set();
    for (const e of found) {
      if (forward && e.kind === "added") fresh.add(e.id);
      if (forward && e.kind === "superseded" && e.by) fresh.add(e.by);
      if (!forward && e.kind !== "added") fresh.add(e.id);
    }
    return fresh;
  }

  // --- labels ---------------------------------------------------------------------------------
  // Greedy: the most important labels first (hits, hubs, well-connected memories); a label whose
  // box meets one already placed is hidden. Boxes are in model coordinates, so zoom never changes this.
  function declutter() {
    const started = performance.now();
    const CELL = 60;
    const grid = new Map();
    let hidden = 0;
    const rank = (n) => (n.hasClass("hit") ? 1e6 : 0) + (n.hasClass("entity") ? 1e4 + n.data("mentions") : n.degree(false));
    const nodes = cy.nodes().filter((n) => !n.hasClass("dim")).toArray().sort((a, b) => rank(b) - rank(a));
    cy.batch(() => {
      cy.nodes().removeClass("label-hidden");
      cy.nodes(".dim").addClass("label-hidden");
      const clashes = (bb, cells) => cells.some((key) => (grid.get(key) || []).some((o) =>
        bb.x1 < o.x2 && o.x1 < bb.x2 && bb.y1 < o.y2 && o.y1 < bb.y2));
      const cellsOf = (bb) => {
        const cells = [];
        for (let x = Math.floor(bb.x1 / CELL); x <= Math.floor(bb.x2 / CELL); x++) {
          for (let y = Math.floor(bb.y1 / CELL); y <= Math.floor(bb.y2 / CELL); y++) cells.push(x + "," + y);
        }
        return cells;
      };
      for (const node of nodes) {
        // A box surely inside the label (narrow letters, one line) first: when even that meets a
        // placed label, the exact box (costly to measure) is not needed.
        const at = node.position();
        const size = (node.data("kind") === "entity" ? 12 : 10) * labelScale;
        const half = (String(node.data("short")).length * size * 0.3) / 2;
        const top = at.y + node.height() / 2 + 2;
        const inner = { x1: at.x - half, x2: at.x + half, y1: top + size * 0.2, y2: top + size * 0.9 };
        if (clashes(inner, cellsOf(inner))) { node.addClass("label-hidden"); hidden++; continue; }
        const bb = node.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true });
        if (!bb || !isFinite(bb.w) || bb.w === 0) continue;
        const cells = cellsOf(bb);
        if (clashes(bb, cells)) { node.addClass("label-hidden"); hidden++; continue; }
        for (const key of cells) (grid.get(key) || grid.set(key, []).get(key)).push(bb);
      }
    });
    root.dataset.labelsHidden = String(hidden);
    root.dataset.declutterMs = String(Math.round(performance.now() - started));
  }

  // Labels keep one size on screen (about 10 px): zoomed out they are big in the graph's own
  // coordinates, so few fit and only the most important show; zooming in makes room for more.
  let labelZoom = null;
  function scaleLabels(force) {
    const zoom = cy.zoom();
    if (!force && labelZoom && Math.abs(zoom / labelZoom - 1) < 0.1) return;
    labelZoom = zoom;
    labelScale = Math.min(4, Math.max(0.25, 1 / zoom));
    cy.style().update();
    declutter();
  }

  // --- search ---------------------------------------------------------------------------------
  function nodeText(node) {
    return (node.data("kind") === "entity" ? node.data("label") + " " + node.data("entity_kind") : node.data("memory")).toLowerCase();
  }

  function highlight(place) {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    cy.batch(() => {
      cy.elements().removeClass("hit near dim");
      if (!words.length) return;
      const hits = cy.nodes().filter((n) => { const text = nodeText(n); return words.every((w) => text.includes(w)); });
      const near = hits.closedNeighborhood();
      cy.elements().not(near).addClass("dim");
      near.addClass("near");
      hits.addClass("hit");
    });
    root.dataset.hits = words.length ? String(cy.nodes(".hit").length) : "";
    if (place !== false) declutter();
  }

  // --- loading --------------------------------------------------------------------------------
  function layoutOptions(size) {
    if (typeof window.cytoscapeFcose === "function") {
      return {
        name: "fcose", quality: size > 700 ? "draft" : "default", randomize: true, animate: false,
        nodeDimensionsIncludeLabels: size <= 700, packComponents: true, nodeSeparation: 60,
        nodeRepulsion: () => 9000, idealEdgeLength: (edge) => (edge.data("relation") === "mentions" ? 55 : 80),
        edgeElasticity: () => 0.35, gravity: 0.3, numIter: 2500, tile: true,
        tilingPaddingVertical: 14, tilingPaddingHorizontal: 14,
      };
    }
    return { name: "cose", animate: false, randomize: true, numIter: 600, nodeRepulsion: () => 6000 };
  }

  let sequence = 0;
  let shown = null; // the moment (seconds) the graph on screen is at
  async function load() {
    const mine = ++sequence;
    const started = performance.now();
    const params = new URLSearchParams();
    const moment = asOf();
    if (moment) params.set("as_of", moment);
    for (const select of filters) if (select.value) params.set(select.id, select.value);
    root.dataset.state = "loading";
    const response = await fetch(root.dataset.url + "?" + params.toString(), { credentials: "same-origin" });
    const body = await response.json();
    if (mine !== sequence) return; // a newer request is on its way
    if (!response.ok) {
      counts.textContent = body.detail || "could not load the graph";
      root.dataset.state = "error";
      return;
    }
    const fetched = performance.now();
    const nodes = body.elements.nodes.map((node) => {
      const data = node.data;
      if (data.kind === "entity") {
        data.color = KINDS[data.entity_kind] || KINDS.thing;
        data.size = Math.min(48, 20 + 4 * Math.sqrt(data.mentions));
        data.short = data.label.length > SHORT ? data.label.slice(0, SHORT - 1) + "…" : data.label;
        return { data: data, classes: "entity " + data.entity_kind };
      }
      data.color = colour((data.categories || [])[0]);
      data.short = shorten(data.memory);
      return { data: data, classes: "memory" + (data.valid_to ? " superseded" : "") };
    });
    cy.batch(() => {
      cy.elements().remove();
      cy.add({ nodes: nodes, edges: body.elements.edges });
    });
    const added = performance.now();
    cy.layout(layoutOptions(nodes.length)).run();
    root.dataset.addMs = String(Math.round(added - fetched));
    root.dataset.layoutMs = String(Math.round(performance.now() - added));
    cy.fit(undefined, 20);
    if (cy.zoom() > 1.6) { cy.zoom(1.6); cy.center(); } // a few nodes should not fill the screen
    const now = Number(slider.value);
    const fresh = listChanges(shown, now);
    shown = now;
    if (fresh && fresh.size) cy.nodes().filter((n) => fresh.has(n.id())).addClass("fresh");
    highlight(false);
    scaleLabels(true); // and places them
    const memories = cy.nodes(".memory").length;
    const entities = cy.nodes(".entity").length;
    const relationships = cy.edges().filter((e) => e.data("relation") !== "mentions").length;
    counts.textContent = memories + " memories, " + relationships + " relationships" + (entities ? ", " + entities + " entities" : "");
    truncated.hidden = !body.truncated;
    root.dataset.asOf = moment || "now";
    root.dataset.fetchMs = String(Math.round(fetched - started));
    root.dataset.drawMs = String(Math.round(performance.now() - started));
    // From the start of the page's navigation to the first drawing: what a person waits.
    if (!root.dataset.firstReadyMs) root.dataset.firstReadyMs = String(Math.round(performance.now()));
    root.dataset.state = "ready";
  }

  // --- the side panel for an entity (memories come from the server's panel) --------------------
  function entityPanel(node) {
    const article = document.createElement("article");
    article.id = "memory-panel";
    article.className = "card entity-panel";
    const head = document.createElement("header");
    head.className = "panel-head";
    const title = document.createElement("h2");
    title.textContent = node.data("label");
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = node.data("entity_kind");
    head.append(title, badge);
    const intro = document.createElement("p");
    const named = node.connectedEdges('[relation = "mentions"]');
    intro.textContent = "Named by " + named.length + " of the memories shown:";
    const list = document.createElement("ol");
    named.forEach((edge) => {
      const memory = edge.source();
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = root.dataset.panelUrl.replace(ZERO, memory.id());
      link.textContent = memory.data("memory");
      link.addEventListener("click", (event) => { event.preventDefault(); memory.emit("tap"); });
      const verb = document.createElement("span");
      verb.className = "relation";
      verb.textContent = edge.data("label");
      item.append(link, " ", verb);
      list.appendChild(item);
    });
    const only = document.createElement("button");
    only.type = "button";
    only.className = "link";
    only.textContent = "Show only the memories that name " + node.data("label");
    only.addEventListener("click", () => {
      const select = $("entity");
      const name = node.data("name");
      if (![...select.options].some((o) => o.value === name)) select.add(new Option(name, name));
      select.value = name;
      load();
    });
    article.append(head, intro, list, only);
    panel().replaceWith(article);
  }

  // --- events ---------------------------------------------------------------------------------
  let timer = null;
  slider.addEventListener("input", () => { showMoment(); clearTimeout(timer); timer = setTimeout(load, 250); });
  slider.addEventListener("change", () => { showMoment(); clearTimeout(timer); load(); });
  for (const select of filters) select.addEventListener("change", load);
  let searchTimer = null;
  search.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(highlight, 120); });
  $("timeline").addEventListener("click", (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const step = Number(slider.step) || 60;
    slider.value = String(min + Math.round((share * (max - min)) / step) * step);
    slider.dispatchEvent(new Event("change"));
  });
  cy.on("tap", "node", (event) => {
    const node = event.target;
    if (node.data("kind") === "entity") { entityPanel(node); return; }
    const url = root.dataset.panelUrl.replace(ZERO, node.id());
    window.htmx.ajax("GET", url, { target: "#memory-panel", swap: "outerHTML" });
  });
  cy.on("mouseover", "node", (event) => {
    const node = event.target;
    const data = node.data();
    tip.textContent = data.kind === "entity"
      ? data.label + " (" + data.entity_kind + ", named by " + data.mentions + ")"
      : data.memory + (data.valid_to ? " (superseded " + data.valid_to.slice(0, 10) + ")" : "");
    const at = node.renderedPosition();
    tip.style.left = at.x + 12 + "px";
    tip.style.top = at.y + 12 + "px";
    tip.hidden = false;
  });
  cy.on("mouseover", "edge", (event) => event.target.addClass("hover"));
  cy.on("mouseout", "edge", (event) => event.target.removeClass("hover"));
  cy.on("mouseout", "node", () => { tip.hidden = true; });
  let zoomTimer = null;
  cy.on("viewport", () => { tip.hidden = true; });
  cy.on("zoom", () => { clearTimeout(zoomTimer); zoomTimer = setTimeout(() => scaleLabels(false), 200); });
  drawTimeline();
  showMoment();
  load();
})();
