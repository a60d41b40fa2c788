/* Jiayi console: the charts (Apache ECharts, vendored) and the PNG export. No inline script: CSP. */
(function () {
  "use strict";
  function data(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  var charts = {};
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption(Object.assign({ animation: false, grid: { left: 48, right: 40, top: 30, bottom: 40 }, tooltip: { trigger: "axis" } }, option));
    charts[id] = c;
    el.setAttribute("data-rendered", "true");
  }
  var bp = data("bp-data");
  if (bp) {
    chart("bp-chart", {
      legend: { data: ["收缩压", "舒张压"], top: 0 },
      xAxis: { type: "category", data: bp.map(function (p) { return p[0]; }) },
      yAxis: { type: "value", min: 40, max: 200 },
      series: [
        { name: "收缩压", type: "line", data: bp.map(function (p) { return p[1]; }), color: "#b42318",
          markLine: { silent: true, symbol: "none", data: [{ yAxis: 140 }], lineStyle: { type: "dashed" } } },
        { name: "舒张压", type: "line", data: bp.map(function (p) { return p[2]; }), color: "#0b5cad",
          markLine: { silent: true, symbol: "none", data: [{ yAxis: 90 }], lineStyle: { type: "dashed" } } }
      ]
    });
  }
  var glucose = data("glucose-data");
  if (glucose) {
    chart("glucose-chart", {
      xAxis: { type: "category", data: glucose.map(function (p) { return p[0]; }) },
      yAxis: { type: "value", min: 2 },
      series: [{ name: "空腹血糖", type: "line", data: glucose.map(function (p) { return p[1]; }), color: "#067647",
                 markLine: { silent: true, symbol: "none", data: [{ yAxis: 7.0 }], lineStyle: { type: "dashed" } } }]
    });
  }
  function measureChart(el) {
    var m = JSON.parse(el.textContent);
    var rows = m.rows.slice(0, 12);
    var values = rows.map(function (r) { return m.scoring === "proportion" ? (r.score === null ? 0 : +(r.score * 100).toFixed(1)) : (r.score === null ? r.numerator : r.score); });
    chart(el.getAttribute("data-target"), {
      grid: { left: 8, right: 16, top: 10, bottom: 10, containLabel: true },
      xAxis: { type: "value", max: m.scoring === "proportion" ? 100 : null },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.stratum.length > 12 ? "…" + r.stratum.slice(-11) : r.stratum; }) },
      series: [{ type: "bar", data: values, color: "#0b5cad", label: { show: true, position: "right" } }]
    });
  }
  function pngButton(button) {
    button.addEventListener("click", function () {
      var c = charts[button.getAttribute("data-chart")];
      if (!c) { return; }
      var a = document.createElement("a");
      a.href = c.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
      a.download = button.getAttribute("data-name") + ".png";
      document.body.appendChild(a); a.click(); a.remove();
    });
  }
  /* the dashboard: each Measure's card is asked on its own request, two at a time.  A card whose
     summary the server is still evaluating answers 202 (正在计算…) and is asked again after its
     Retry-After; each card's comparison with the period before is asked once every card is shown. */
  var pending = Array.prototype.slice.call(document.querySelectorAll("section[data-src]"));
  var later = [];
  var running = 0, cardsLeft = pending.length, tries = {};
  var MAX_TRIES = 180;  /* about three minutes of 正在计算… before a card gives up (–) */
  function retry(list, el, answer, src) {
    tries[src] = (tries[src] || 0) + 1;
    if (tries[src] > MAX_TRIES) { return false; }
    setTimeout(function () { list.push(el); pump(); }, (parseInt(answer.retry, 10) || 1) * 1000);
    return true;
  }
  function ask(src) {
    return fetch(src, { credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (html) {
        return { status: response.status, ok: response.ok, html: html, retry: response.headers.get("Retry-After") };
      });
    });
  }
  function loaded(card) {
    card.setAttribute("aria-busy", "false");
    card.setAttribute("data-loaded", "true");
    cardsLeft--;
  }
  function showCard(card) {
    var src = card.getAttribute("data-src");
    return ask(src).then(function (answer) {
      if (answer.status === 202) {
        card.querySelector(".value").textContent = answer.html;
        if (retry(pending, card, answer, src)) { return; }
        answer = { ok: false };
      }
      if (answer.ok) {
        card.innerHTML = answer.html;
        card.querySelectorAll("script.measure-data").forEach(measureChart);
        card.querySelectorAll("button.png").forEach(pngButton);
        card.querySelectorAll("[data-previous-src]").forEach(function (el) { later.push(el); });
      } else {
        card.querySelector(".value").textContent = "–";
      }
      loaded(card);
    }).catch(function () {
      card.querySelector(".value").textContent = "–";
      loaded(card);
    });
  }
  function showPrevious(el) {
    var src = el.getAttribute("data-previous-src");
    return ask(src).then(function (answer) {
      if (answer.status === 202 && retry(later, el, answer, src)) { return; }
      if (answer.ok) { el.innerHTML = answer.html; }
      el.setAttribute("data-loaded", "true");
    }).catch(function () { el.setAttribute("data-loaded", "true"); });
  }
  function pump() {
    while (running < 2) {
      var work;
      if (pending.length) {
        work = showCard(pending.shift());
      } else if (later.length && cardsLeft === 0) {
        work = showPrevious(later.shift());
      } else {
        return;  /* nothing to ask, or cards still being evaluated: asked again after their Retry-After */
      }
      running++;
      work.then(function () { running--; pump(); });
    }
  }
  pump();
  var preset = document.getElementById("preset");
  if (preset) {
    ["start", "end"].forEach(function (id) {
      document.getElementById(id).addEventListener("change", function () { preset.value = ""; });
    });
  }
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
})();
