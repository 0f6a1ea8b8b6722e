// Written answers (nbgrader's Markdown answer cells) and the learner's own Markdown cells:
// a plain textarea, and a preview the server renders and sanitises (Markdown and math, as
// the rest of the page). Drafts are notebook.js's, submission notebook-submit.js's.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("notebook-config").textContent);

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function showPreview(li) {
    var textarea = li.querySelector("textarea.written-source");
    var preview = li.querySelector(".written-preview");
    var body = new URLSearchParams({ body: textarea.value });
    fetch(config.urls.preview, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
      body: body
    })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        preview.innerHTML = html;  // rendered and sanitised by the server (courses/html.py)
        if (window.typesetMath) window.typesetMath(preview);
      })
      .catch(function () { preview.textContent = config.strings.preview_failed; });
  }

  // Delegated: the learner's Markdown cells come and go.
  var list = document.querySelector(".notebook-cells");
  if (list) {
    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action=preview-written]");
      if (button) showPreview(button.closest("li.cell"));
    });
    list.querySelectorAll("button[data-action=preview-written]").forEach(function (button) { button.disabled = false; });
  }
})();
