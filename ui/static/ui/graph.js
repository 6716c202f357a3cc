// The user's memory graph: Cytoscape.js draws the elements of graph.json (graph.export.to_cytoscape);
// the relation filter and the time slider re-fetch them; clicking a node loads the memory panel via htmx.
(function () {
  "use strict";
  const root = document.getElementById("graph");
  if (!root || !window.cytoscape) return;
  const ZERO = "00000000-0000-0000-0000-000000000000";
  const slider = document.getElementById("as-of");
  const label = document.getElementById("as-of-label");
  const relation = document.getElementById("relation");
  const counts = document.getElementById("graph-counts");
  const truncated = document.getElementById("graph-truncated");
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf"];

  function colour(category) {
    if (!category) return "#9aa0a6";
    let hash = 0;
    for (const ch of category) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return palette[hash % palette.length];
  }

  const cy = cytoscape({
    container: document.getElementById("cy"),
    minZoom: 0.05,
    maxZoom: 4,
    style: [
      { selector: "node", style: {
        "background-color": "data(color)", label: "data(short)", "font-size": 9, "text-wrap": "ellipsis",
        "text-max-width": 120, width: 18, height: 18, color: "#222" } },
      { selector: "node.superseded", style: { opacity: 0.35, "border-width": 1, "border-style": "dashed", "border-color": "#555" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#111" } },
      { selector: "edge", style: {
        width: 1.5, "line-color": "#b0b4b9", "target-arrow-color": "#b0b4b9", "target-arrow-shape": "triangle",
        "curve-style": "bezier", label: "data(label)", "font-size": 7, "text-rotation": "autorotate", color: "#555" } },
      { selector: 'edge[relation = "supersedes"]', style: { "line-style": "dashed", "line-color": "#e15759", "target-arrow-color": "#e15759" } },
    ],
  });
  window.memGraph = cy;

  function asOf() {
    return Number(slider.value) >= Number(slider.max) ? null : new Date(Number(slider.value) * 1000).toISOString();
  }

  function showMoment() {
    const moment = asOf();
    label.textContent = moment ? moment.slice(0, 16).replace("T", " ") + " UTC" : "now";
  }

  let sequence = 0;
  async function load() {
    const mine = ++sequence;
    const params = new URLSearchParams();
    const moment = asOf();
    if (moment) params.set("as_of", moment);
    if (relation.value) params.set("relation", relation.value);
    root.dataset.state = "loading";
    const response = await fetch(root.dataset.url + "?" + params.toString(), { credentials: "same-origin" });
    const body = await response.json();
    if (mine !== sequence) return; // a newer request is on its way
    if (!response.ok) {
      counts.textContent = body.detail || "could not load the graph";
      root.dataset.state = "error";
      return;
    }
    const nodes = body.elements.nodes.map((node) => {
      const data = node.data;
      data.color = colour((data.categories || [])[0]);
      data.short = data.memory.length > 40 ? data.memory.slice(0, 39) + "…" : data.memory;
      return { data: data, classes: data.valid_to ? "superseded" : "" };
    });
    cy.batch(() => {
      cy.elements().remove();
      cy.add({ nodes: nodes, edges: body.elements.edges });
    });
    const layout = nodes.length <= 300
      ? { name: "cose", animate: false, randomize: true, numIter: 600, nodeRepulsion: () => 6000 }
      : { name: "concentric", animate: false, minNodeSpacing: 4, concentric: (n) => n.degree() };
    cy.layout(layout).run();
    if (cy.zoom() > 1.3) { cy.zoom(1.3); cy.center(); } // a few nodes should not fill the screen
    counts.textContent = cy.nodes().length + " memories, " + cy.edges().length + " relationships";
    truncated.hidden = !body.truncated;
    root.dataset.asOf = moment || "now";
    root.dataset.state = "ready";
  }

  let timer = null;
  slider.addEventListener("input", () => {
    showMoment();
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  slider.addEventListener("change", () => { showMoment(); clearTimeout(timer); load(); });
  relation.addEventListener("change", load);
  cy.on("tap", "node", (event) => {
    const url = root.dataset.panelUrl.replace(ZERO, event.target.id());
    window.htmx.ajax("GET", url, { target: "#memory-panel", swap: "outerHTML" });
  });
  showMoment();
  load();
})();
