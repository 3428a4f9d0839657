// 客服台: clicking a suggested reply puts it in the editor (without JavaScript the link reloads
// the page with it there), remembering which one it was so the edit distance can be journaled.
(function () {
  "use strict";
  var form = document.getElementById("reply");
  if (!form) { return; }
  document.querySelectorAll("#candidates a.pick").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      form.elements.text.value = link.dataset.text;
      form.elements.candidate_text.value = link.dataset.text;
      form.elements.candidate_faq.value = link.dataset.faq;
      form.elements.text.focus();
    });
  });
})();
