// Draws the state diagram with the vendored Mermaid build (no network needed).
(function () {
  "use strict";
  if (!window.mermaid) { return; }
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral",
                              flowchart: { htmlLabels: false } });
  window.mermaid.run({ querySelector: "pre.mermaid" }).then(function () {
    document.body.setAttribute("data-diagram", "drawn");
  }).catch(function (err) {
    document.body.setAttribute("data-diagram", "failed");
    console.error(err);
  });
})();
