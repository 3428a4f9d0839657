// The script editor: after each pause in typing, the draft is rendered for the chosen sample
// (quick) and checked by lint (slower); both come from the server, which holds the bot's code.
(function () {
  "use strict";
  var editor = document.getElementById("editor");
  if (!editor) { return; }
  var base = "/api/scripts/" + editor.dataset.bot + "/" + editor.dataset.script;
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var sample = document.getElementById("sample");
  var customer = document.getElementById("customer");
  var preview = document.getElementById("preview");
  var banner = document.getElementById("preview-banner");
  var meta = document.getElementById("preview-meta");
  var lint = document.getElementById("lint");
  var timer = null, seq = 0, lintSeq = 0;

  function post(path, body) {
    return fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); });
  }

  function text(el, value) { el.textContent = value; }

  function showPreview(data) {
    banner.hidden = !data.real;
    if (data.real) { text(banner, "这是" + data.sample + "的预览，仅供检查，不会发送"); }
    if (data.error) {
      preview.className = "bubble error";
      text(preview, data.error);
      text(meta, "");
      return;
    }
    preview.className = "bubble";
    text(preview, data.text);
    var parts = ["为" + data.sample + "渲染", "类型 " + data.kind, data.size + " / " + data.limit + " 字节"];
    if (data.placeholders && data.placeholders.length) {
      parts.push("〔〕里是代码传入的值：" + data.placeholders.join("、"));
    }
    text(meta, parts.join(" · "));
  }

  function showLint(data) {
    lint.innerHTML = "";
    var problems = data.problems || [];
    if (!problems.length) {
      var ok = document.createElement("span");
      ok.className = "lint-ok";
      text(ok, "lint：没有问题");
      lint.appendChild(ok);
      return;
    }
    var list = document.createElement("ul");
    problems.forEach(function (p) {
      var item = document.createElement("li");
      item.className = p.warning ? "lint-warning" : "lint-error";
      text(item, (p.warning ? "提醒 · " : "") + (p.line ? "第 " + p.line + " 行：" : "") + p.message);
      if (p.line) { item.dataset.line = p.line; item.addEventListener("click", function () { goTo(p.line); }); }
      list.appendChild(item);
    });
    lint.appendChild(list);
  }

  function goTo(line) {
    var lines = editor.value.split("\n"), start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    editor.focus();
    editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }

  function refresh() {
    var body = { text: editor.value, sample: sample.value, customer: customer ? customer.value.trim() : "" };
    var mine = ++seq;
    post("/preview", body).then(function (data) {
      if (mine === seq) { showPreview(data); document.body.dataset.preview = String(mine); }
    });
    var mineLint = ++lintSeq;
    lint.classList.add("checking");
    post("/lint", { text: editor.value }).then(function (data) {
      if (mineLint === lintSeq) {
        lint.classList.remove("checking");
        showLint(data);
        document.body.dataset.lint = String(mineLint);
      }
    });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 300);
  }

  editor.addEventListener("input", later);
  sample.addEventListener("change", refresh);
  if (customer) { customer.addEventListener("change", refresh); }
  refresh();
})();
