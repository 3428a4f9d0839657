// 群发: the audience's live count and sample as the expression is typed, the form's parts shown
// for the choices made, and a running campaign's progress polled until it is over.
(function () {
  "use strict";

  var form = document.getElementById("campaign-form");
  if (form) {
    var bot = form.dataset.bot;
    var box = document.getElementById("audience");
    var result = document.getElementById("audience-result");
    var timer = null;
    var asked = 0;

    var show = function () {
      var mode = form.querySelector("input[name=mode]:checked").value;
      var when = form.querySelector("input[name=when]:checked").value;
      form.querySelectorAll("[data-mode]").forEach(function (el) { el.hidden = el.dataset.mode !== mode; });
      form.querySelectorAll("[data-when]").forEach(function (el) { el.hidden = el.dataset.when !== when; });
    };
    form.addEventListener("change", show);
    show();

    var count = function () {
      var text = box.value.trim();
      if (!text) { result.textContent = ""; result.className = "audience"; return; }
      var mine = ++asked;
      fetch("/api/audience/" + encodeURIComponent(bot) + "?q=" + encodeURIComponent(text), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (mine !== asked) { return; }
          result.textContent = "";
          if (data.error) {
            result.className = "audience error";
            result.textContent = "第 " + data.column + " 列：" + data.error;
            return;
          }
          result.className = "audience ok";
          var head = document.createElement("strong");
          head.id = "audience-count";
          head.textContent = data.count + " 位客户";
          result.appendChild(head);
          if (data.sample.length) {
            var list = document.createElement("span");
            list.id = "audience-sample";
            list.textContent = "，例如：" + data.sample.join("、") + (data.count > data.sample.length ? " 等" : "");
            result.appendChild(list);
          }
          var cost = document.createElement("span");
          cost.id = "audience-cost";
          cost.className = "hint";
          cost.textContent = "（" + data.cost + "）";
          result.appendChild(cost);
        })
        .catch(function () { if (mine === asked) { result.textContent = "暂时无法计算受众"; } });
    };
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(count, 250);
    });
    count();
  }

  var card = document.getElementById("campaign");
  if (card && card.dataset.over !== "yes") {
    var url = "/api/campaigns/" + encodeURIComponent(card.dataset.bot) + "/" + encodeURIComponent(card.dataset.id);
    var poll = function () {
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (c) {
        ["sent", "deferred", "dropped", "silent", "done_before", "errors", "started", "finished"].forEach(function (k) {
          var el = document.getElementById(k);
          if (el) { el.textContent = c[k] === "" ? "—" : c[k]; }
        });
        var status = document.getElementById("status");
        status.textContent = c.status_label;
        status.className = "status " + c.status;
        var reasons = document.getElementById("reasons");
        reasons.textContent = "";
        c.reasons.forEach(function (r) {
          var row = document.createElement("tr");
          row.className = "reason";
          var th = document.createElement("th");
          th.textContent = "　· " + r.label;
          var td = document.createElement("td");
          td.className = "num";
          td.textContent = r.count;
          row.appendChild(th);
          row.appendChild(td);
          reasons.appendChild(row);
        });
        if (c.status === "done" || c.status === "cancelled") {
          var cancel = document.getElementById("cancel");
          if (cancel) { cancel.remove(); }
          return;
        }
        setTimeout(poll, 2000);
      }).catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 1000);
  }
})();
