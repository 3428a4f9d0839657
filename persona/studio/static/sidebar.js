// 侧边栏: the desk in WeCom's chat toolbar. WeCom's JS-SDK (window.wx) is loaded by the page;
// everything else comes from the studio's own API, with the session's CSRF token.
(function () {
  "use strict";
  var root = document.getElementById("sidebar");
  var bot = root.dataset.bot;
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var status = document.getElementById("sidebar-status");
  var errorBox = document.getElementById("sidebar-error");

  function text(node, value) { node.textContent = value; }
  function fail(message) { text(errorBox, message); errorBox.hidden = false; }
  function get(path) {
    return fetch(path, { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) { if (!r.ok) { throw new Error(body.error || r.status); } return body; });
    });
  }
  function post(path, body) {
    return fetch(path, { method: "POST", credentials: "same-origin",
                         headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
                         body: JSON.stringify(body) }).then(function (r) {
      return r.json().then(function (answer) { if (!r.ok) { throw new Error(answer.error || r.status); } return answer; });
    });
  }

  function send(content, message) {
    errorBox.hidden = true;
    post("/api/sidebar/" + bot + "/check", { text: content }).then(function (verdict) {
      if (verdict.blocked !== false) { fail("没有放进聊天框：含有禁用词 " + (verdict.words || []).join("、")); return; }
      var args = Object.assign({ enterChat: true }, message || { msgtype: "text", text: { content: content } });
      window.wx.invoke("sendChatMessage", args,
        function (res) {
          if (res.err_msg !== "sendChatMessage:ok") { fail("企业微信没有接受：" + res.err_msg); return; }
          text(status, "已放进聊天框" + (verdict.words.length ? "（提醒：含有 " + verdict.words.join("、") + "）" : ""));
        });
    }).catch(function (e) { fail("风控检查没有完成，没有放进聊天框：" + e.message); });  // fail closed
  }

  function picks(section, items) {
    var list = section.querySelector("ul");
    list.innerHTML = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "plain pick";
      text(button, item.title ? "〔" + item.title + "〕" : (item.text || item.error));
      button.disabled = !(item.text || item.message || item.fetch);
      button.addEventListener("click", function () {
        if (!item.fetch) { send(item.text || item.title, item.message); return; }
        errorBox.hidden = true;
        text(status, "正在准备图片…");
        get(item.fetch).then(function (ready) { send(item.title, ready.message); })
          .catch(function (e) { fail("没有放进聊天框：" + e.message); });
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    section.hidden = false;
  }

  function show(user) {
    var base = "/api/agents/" + bot + "/conversations/" + encodeURIComponent(user);
    get(base).then(function (seen) {
      text(document.getElementById("sidebar-name"), user);
      text(document.getElementById("sidebar-state"), seen.state);
      text(document.getElementById("sidebar-tags"),
           Object.keys(seen.tags || {}).map(function (k) { return k + (seen.tags[k] ? "=" + seen.tags[k] : ""); }).join(" · "));
      var lines = document.getElementById("sidebar-lines");
      lines.innerHTML = "";
      (seen.lines || []).slice(-5).forEach(function (line) {
        var li = document.createElement("li");
        text(li, ({ customer: "客户", bot: "机器人", agent: "客服", system: "系统" }[line.who] || line.who) + "：" + line.text);
        lines.appendChild(li);
      });
      document.getElementById("sidebar-customer").hidden = false;
      text(status, "当前客户");
    }).catch(function (e) { fail("读不到这位客户：" + e.message); });
    get(base + "/candidates").then(function (offered) {
      picks(document.getElementById("sidebar-suggestions"), offered.candidates || []);
    }).catch(function () {});
    get("/api/sidebar/" + bot + "/library/" + encodeURIComponent(user)).then(function (found) {
      picks(document.getElementById("sidebar-library"), found.items || []);
    }).catch(function () {});
    get("/api/library/" + bot).then(function (found) {
      picks(document.getElementById("sidebar-content"), found.items || []);
    }).catch(function () {});
  }

  function start() {
    if (!window.wx || !window.wx.agentConfig) { fail("请在企业微信的聊天工具栏里打开这个页面"); return; }
    get("/api/sidebar/" + bot + "/config?url=" + encodeURIComponent(location.href.split("#")[0])).then(function (c) {
      window.wx.agentConfig({
        corpid: c.corpid, agentid: c.agentid, timestamp: c.timestamp, nonceStr: c.nonceStr, signature: c.signature,
        jsApiList: ["getCurExternalContact", "sendChatMessage"],
        success: function () {
          window.wx.invoke("getCurExternalContact", {}, function (res) {
            if (res.err_msg === "getCurExternalContact:ok") { show(res.userId); }
            else { fail("企业微信没有告诉我们当前客户：" + res.err_msg); }
          });
        },
        fail: function (res) { fail("企业微信 JS-SDK 签名没有通过：" + (res.errMsg || res.err_msg || "")); }
      });
    }).catch(function (e) { fail(e.message); });
  }

  window.addEventListener("load", start);
})();
