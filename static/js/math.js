// Typeset the `.math` elements that the server's Markdown renderer leaves (vendored KaTeX).
// No aria-label: KaTeX's own MathML is what screen readers read.
(function () {
  "use strict";
  function typeset(root) {
    if (!window.katex) return;
    root.querySelectorAll(".math.inline, .math.block").forEach(function (el) {
      if (el.dataset.typeset) return;
      var tex = el.textContent;
      try {
        window.katex.render(tex, el, { displayMode: el.classList.contains("block"), throwOnError: false });
        el.dataset.typeset = "1";
      } catch (e) { /* leave the TeX source visible */ }
    });
  }
  window.typesetMath = typeset;
  document.addEventListener("DOMContentLoaded", function () { typeset(document); });
})();
