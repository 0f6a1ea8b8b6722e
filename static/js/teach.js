// Teaching pages: drag-and-drop ordering (the Move up/down buttons do the same by
// keyboard, without script), focus kept on a moved item, and the lesson editor's live
// Markdown preview rendered by the server (the same sanitiser as the lesson page).
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function announce(text) {
    var status = document.getElementById("order-status");
    if (status) { status.textContent = text; }
  }

  function saveOrder(list) {
    var keys = Array.prototype.map.call(list.querySelectorAll("li[data-key]"), function (li) {
      return li.dataset.key;
    });
    return fetch(list.dataset.orderUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ keys: keys })
    }).then(function (response) {
      announce(response.ok ? list.dataset.savedText || "Order saved." : "Order not saved.");
      if (!response.ok) { window.location.reload(); }
    });
  }

  function enableDrag(list) {
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("li[data-key]");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.key);
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      var over = event.target.closest("li[data-key]");
      if (!over || over === dragged || over.parentNode !== list) { return; }
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (event) { event.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("dragging");
      dragged = null;
      saveOrder(list);
    });
  }

  function focusMovedItem() {
    if (!window.location.hash) { return; }
    var target = document.getElementById(window.location.hash.slice(1));
    if (!target) { return; }
    var button = target.querySelector(".move button") || target;
    button.focus();
  }

  function enablePreview(preview) {
    var source = document.querySelector("textarea.markdown-source");
    if (!source) { return; }
    var timer = null;
    var form = source.form;
    source.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var body = new FormData();
        body.append("body", source.value);
        body.append("csrfmiddlewaretoken", csrfToken());
        fetch(preview.dataset.previewUrl, { method: "POST", credentials: "same-origin", body: body })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            if (html === null) { return; }
            // The server rendered and sanitised this HTML (markdown-it + nh3).
            preview.innerHTML = html;
            if (window.typesetMath) { window.typesetMath(preview); }
          });
      }, 300);
    });
    if (form) { form.dataset.preview = "on"; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("ol.sortable[data-order-url]").forEach(function (list) {
      if (list.querySelector("li[draggable=true]")) { enableDrag(list); }
    });
    var preview = document.getElementById("markdown-preview");
    if (preview) { enablePreview(preview); }
  });
  // After the browser's own scroll to the #fragment, which would otherwise take the focus away.
  window.addEventListener("load", function () { setTimeout(focusMovedItem, 0); });
})();
