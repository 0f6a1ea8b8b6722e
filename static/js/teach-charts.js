// Analytics charts drawn as inline SVG from the page's JSON data (no library, no CDN).
// Each chart has a data table next to it: the table is the accessible version.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // Vertical bars: values with their labels; a tooltip (<title>) on each bar.
  function bars(container, labels, values, options) {
    // Text is sized in these units: at the page's usual width they are screen pixels.
    var width = 480, height = 260, left = 44, bottom = 80, top = 10;
    var max = Math.max.apply(null, values.concat([options.max || 1]));
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
                          "aria-hidden": "true", "class": "chart-svg" });
    var plotW = width - left - 8, plotH = height - bottom - top;
    var step = values.length ? plotW / values.length : plotW;
    svg.appendChild(el("line", { x1: left, y1: top + plotH, x2: width - 8, y2: top + plotH,
                                 "class": "axis" }));
    var shown = {};
    [0, 0.5, 1].forEach(function (f) {
      var label = options.format(f * max);
      if (shown[label]) { return; }  // small counts: 0.5 of 1 would repeat a label
      shown[label] = true;
      var y = top + plotH - f * plotH;
      svg.appendChild(el("text", { x: left - 4, y: y + 4, "text-anchor": "end",
                                   "class": "tick" }, label));
    });
    values.forEach(function (value, i) {
      var h = max ? (value / max) * plotH : 0;
      var x = left + i * step + step * 0.15;
      var bar = el("rect", { x: x, y: top + plotH - h, width: step * 0.7, height: h,
                             "class": "bar" });
      bar.appendChild(el("title", {}, labels[i] + ": " + options.format(value)));
      svg.appendChild(bar);
      svg.appendChild(el("text", { x: x + step * 0.35, y: height - bottom + 16,
                                   "text-anchor": "end", "class": "label",
                                   transform: "rotate(-40 " + (x + step * 0.35) + " " +
                                              (height - bottom + 16) + ")" }, labels[i]));
    });
    container.appendChild(svg);
  }

  function percent(v) { return Math.round(v) + " %"; }
  function count(v) { return String(Math.round(v * 10) / 10); }

  document.addEventListener("DOMContentLoaded", function () {
    var script = document.getElementById("chart-data");
    if (!script) { return; }
    var data = JSON.parse(script.textContent);
    if (!data) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (area) {
      var kind = area.dataset.chart;
      if (kind === "distribution") {
        bars(area, area.dataset.labels.split("|"), data.distribution, { format: count });
      } else if (kind === "pass_rates") {
        bars(area, data.pass_rates.map(function (r) { return r[0]; }),
             data.pass_rates.map(function (r) { return r[2] ? 100 * r[1] / r[2] : 0; }),
             { format: percent, max: 100 });
      } else if (kind === "per_day") {
        bars(area, data.per_day.map(function (r) { return r[0]; }),
             data.per_day.map(function (r) { return r[1]; }), { format: count });
      }
    });
  });
})();
