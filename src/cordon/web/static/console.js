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
    common.scales = { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } };
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

  document.addEventListener("DOMContentLoaded", drawCharts);
})();
