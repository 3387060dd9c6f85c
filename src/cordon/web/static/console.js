/* Cordon's console: charts on the dashboard. Data comes from a JSON block of the page, never
   from code; nothing here evaluates text. */
"use strict";
(function () {
  var COLOURS = {
    line: "#0b57d0",
    bar: "#14213d",
    CLEAR: "#6b6e7a",
    GREEN: "#2e7d32",
    AMBER: "#b26a00",
    "AMBER+STRICT": "#8a4b00",
    RED: "#c62828",
    pending: "#6b6e7a",
    leased: "#0b57d0",
    done: "#2e7d32",
    dead: "#c62828"
  };

  var MIX = ["#14213d", "#0b57d0", "#2e7d32", "#b26a00", "#c62828", "#6b6e7a", "#7b1fa2", "#00838f"];

  function chartFor(canvas, kind, rows) {
    var labels = rows.map(function (r) { return r.label; });
    var common = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: kind === "stacked" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
    };
    if (kind === "line") {
      return { type: "line", options: common, data: { labels: labels, datasets: [
        { label: "Reports", data: rows.map(function (r) { return r.value; }),
          borderColor: COLOURS.line, backgroundColor: COLOURS.line, tension: 0.2 }] } };
    }
    if (kind === "bar") {
      return { type: "bar", options: common, data: { labels: labels.map(function (l) { return "TLP:" + l; }),
        datasets: [{ label: "Reports", data: rows.map(function (r) { return r.value; }),
          backgroundColor: labels.map(function (l) { return COLOURS[l] || COLOURS.bar; }) }] } };
    }
    if (kind === "hbar") {
      common.indexAxis = "y";
      common.scales = { x: { beginAtZero: true, ticks: { precision: 0 } } };
      return { type: "bar", options: common, data: {
        labels: labels.map(function (l) { return l.split(".").join("[.]"); }),
        datasets: [{ label: "URLs", data: rows.map(function (r) { return r.value; }), backgroundColor: COLOURS.bar }] } };
    }
    if (kind === "rank" || kind === "plain") {
      if (kind === "rank") {
        common.indexAxis = "y";
        common.scales = { x: { beginAtZero: true, ticks: { precision: 0 } } };
      }
      return { type: "bar", options: common, data: { labels: labels,
        datasets: [{ label: canvas.getAttribute("data-label") || "",
          data: rows.map(function (r) { return r.value; }), backgroundColor: COLOURS.bar }] } };
    }
    common.scales = { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } };
    if (kind === "mix") {
      common.plugins.legend.display = true;
      var methods = Object.keys(rows[0].series).sort();
      return { type: "bar", options: common, data: { labels: labels, datasets: methods.map(function (m, i) {
        return { label: m, data: rows.map(function (r) { return r.series[m]; }),
          backgroundColor: MIX[i % MIX.length] };
      }) } };
    }
    var states = [["pending", "Waiting"], ["leased", "Running"], ["done", "Done"], ["dead", "Dead"]];
    return { type: "bar", options: common, data: { labels: labels, datasets: states.map(function (s) {
      return { label: s[1], data: rows.map(function (r) { return r[s[0]]; }), backgroundColor: COLOURS[s[0]] };
    }) } };
  }

  function drawCharts() {
    var holder = document.getElementById("dashboard-data");
    if (!holder || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    window.Chart.defaults.color = "#1b1b1f";
    window.Chart.defaults.font.family = "system-ui, sans-serif";
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var rows = data[canvas.getAttribute("data-chart")];
      if (!rows || !rows.length) { return; }
      canvas.closest("section.chart").classList.add("drawn");
      new window.Chart(canvas, chartFor(canvas, canvas.getAttribute("data-kind"), rows));
    });
  }

  var NODE_COLOURS = {
    site: "#14213d", payment: "#b26a00", analytics: "#0b57d0", email: "#2e7d32",
    messenger: "#7b1fa2", ip: "#6b6e7a", provider: "#00838f", asn: "#6b6e7a",
    cdn: "#00838f", registrar: "#4a4a55"
  };

  /* A network's graph: elements come from a JSON block of the page (labels already defanged);
     nodes are shapes with text, never pictures. */
  function drawGraph() {
    var holder = document.getElementById("network-graph-data");
    var box = document.getElementById("network-graph");
    if (!holder || !box || typeof window.cytoscape === "undefined") { return; }
    var elements = JSON.parse(holder.textContent);
    var cy = window.cytoscape({
      container: box,
      elements: elements.nodes.concat(elements.edges),
      style: [
        { selector: "node", style: {
          "label": "data(label)", "font-size": 10, "color": "#1b1b1f",
          "text-valign": "bottom", "text-margin-y": 3, "text-wrap": "ellipsis", "text-max-width": 140,
          "width": 16, "height": 16,
          "background-color": function (n) { return NODE_COLOURS[n.data("kind")] || "#6b6e7a"; } } },
        { selector: "node[kind = 'site']", style: { "shape": "round-rectangle", "width": 24, "height": 24 } },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#fca311" } },
        { selector: "edge", style: { "width": 1.5, "line-color": "#c9ccd6", "curve-style": "bezier" } },
        { selector: "edge[strength = 'strong']", style: { "width": 3, "line-color": "#4a4a55" } }
      ],
      layout: { name: "cose", animate: false, randomize: false, nodeDimensionsIncludeLabels: true }
    });
    var said = document.getElementById("graph-selected");
    cy.on("tap", "node", function (event) {
      var d = event.target.data();
      if (said) { said.textContent = d.kind.replace(/_/g, " ") + ": " + d.label; }
    });
    box.classList.add("drawn");
  }

  document.addEventListener("DOMContentLoaded", drawCharts);
  document.addEventListener("DOMContentLoaded", drawGraph);
})();
