// floodway console: the dashboard chart. The server embeds the data as JSON in data-chart
// (the CSP allows no inline script); this draws it with the vendored uPlot as bars stacked by
// status. The same numbers are in the table under "View as table".
(function () {
  "use strict";
  var ORDER = ["success", "failure", "skipped"];
  var COLORS = { success: "#17794a", failure: "#b42318", skipped: "#8a94a3" };

  function draw(el) {
    if (el.dataset.drawn || typeof window.uPlot === "undefined") { return; }
    el.dataset.drawn = "1";
    var data = JSON.parse(el.dataset.chart);
    var raw = ORDER.map(function (k) { return data.series[k] || []; });
    // Stack: each series is drawn as the running total, the last (skipped) first, so the
    // bars sit on top of each other; tooltips and the table show the counts themselves.
    var stacked = [];
    var sums = data.x.map(function () { return 0; });
    raw.forEach(function (values) {
      sums = sums.map(function (s, i) { return s + (values[i] || 0); });
      stacked.push(sums.slice());
    });
    var bars = window.uPlot.paths.bars({ size: [0.8, 40] });
    var series = [{}];
    for (var i = ORDER.length - 1; i >= 0; i--) {
      (function (k, idx) {
        series.push({
          label: k,
          stroke: COLORS[k],
          fill: COLORS[k],
          width: 0,
          paths: bars,
          points: { show: false },
          value: function (u, v, si, di) { return di == null ? "" : raw[idx][di]; }
        });
      })(ORDER[i], i);
    }
    var plotData = [data.x];
    for (var j = ORDER.length - 1; j >= 0; j--) { plotData.push(stacked[j]); }
    var width = Math.max(el.clientWidth, 300);
    var opts = {
      width: width,
      height: 220,
      series: series,
      legend: { show: false },
      cursor: { points: { show: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [{ stroke: "#5b6676" }, { stroke: "#5b6676", size: 40,
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] }]
    };
    var plot = new window.uPlot(opts, plotData, el);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(el.clientWidth, 300), height: 220 });
    });
  }

  function init(root) {
    root.querySelectorAll("[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
