// The learner's own cells on the exercise page: add a code or Markdown cell below any cell,
// move one's own cells up and down, delete them (with Undo). The instructor's cells have no
// such buttons, and the server keeps only what it allows whatever is sent (drafts and
// submissions). notebook.js saves the draft and reads the cells in page order.
(function () {
  "use strict";

  var list = document.querySelector(".notebook-cells");
  var notebook = window.exerciseNotebook;
  var undoButton = document.getElementById("cell-undo");
  // A live region present from the start: its new text is announced by screen readers.
  var undoStatus = document.getElementById("cell-undo-status");
  var deleted = null;  // {li, prev, next}: the last deleted cell, until Undo or another delete
  if (!list || !notebook) return;
  var config = JSON.parse(document.getElementById("notebook-config").textContent);

  function newId() {
    var bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function makeCell(type) {
    var template = document.getElementById("added-cell-" + type);
    var holder = document.createElement("template");
    // The template holds the page's own translated markup: no learner text is in it.
    holder.innerHTML = template.innerHTML.replace(/__ID__/g, newId());
    var li = holder.content.querySelector("li");
    // Every script of the page runs before a learner can add a cell: its buttons work now.
    li.querySelectorAll("button[disabled]").forEach(function (button) { button.disabled = false; });
    return li;
  }

  function setUp(li) {
    if (li.dataset.cellType === "code") notebook.setupCell(li);
    else li.querySelector("textarea.written-source").addEventListener("input", notebook.scheduleSave);
  }

  // "Your cell N": numbered in page order, after every change.
  function renumber() {
    list.querySelectorAll("li.cell-added .added-number").forEach(function (span, index) {
      span.textContent = String(index + 1);
    });
  }

  function refresh(li) {
    var editor = notebook.editorOf(li.dataset.key);
    if (editor) editor.refresh();
  }

  function focusEditor(li) {
    var editor = notebook.editorOf(li.dataset.key);
    if (editor) editor.focus();
    else li.querySelector("textarea").focus();
  }

  function changed() {
    renumber();
    notebook.scheduleSave();
  }

  function add(below, type) {
    if (list.querySelectorAll("li.cell-added").length >= config.max_added_cells) {
      undoStatus.textContent = notebook.fmt(config.strings.too_many_cells, { max: config.max_added_cells });
      return;
    }
    var li = makeCell(type);
    below.after(li);
    setUp(li);
    changed();
    focusEditor(li);
  }

  function move(li, button, up) {
    var other = up ? li.previousElementSibling : li.nextElementSibling;
    if (!other) return;
    if (up) other.before(li);
    else other.after(li);
    refresh(li);
    changed();
    button.focus();
    li.scrollIntoView({ block: "nearest" });
  }

  function remove(li) {
    deleted = { li: li, prev: li.previousElementSibling, next: li.nextElementSibling };
    li.remove();
    changed();
    undoStatus.textContent = undoStatus.dataset.deleted;
    undoButton.hidden = false;
    undoButton.focus();
  }

  function undo() {
    if (!deleted) return;
    var li = deleted.li;
    if (deleted.prev && deleted.prev.isConnected) deleted.prev.after(li);
    else if (deleted.next && deleted.next.isConnected) deleted.next.before(li);
    else list.prepend(li);
    deleted = null;
    undoStatus.textContent = "";
    undoButton.hidden = true;
    refresh(li);
    changed();
    li.querySelector("[data-action=delete-cell]").focus();
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || !list.contains(button)) return;
    var li = button.closest("li.cell");
    var action = button.dataset.action;
    if (action === "add-code") add(li, "code");
    else if (action === "add-markdown") add(li, "markdown");
    else if (!li.classList.contains("cell-added")) return;  // never an instructor's cell
    else if (action === "move-up") move(li, button, true);
    else if (action === "move-down") move(li, button, false);
    else if (action === "delete-cell") remove(li);
  });
  undoButton.addEventListener("click", undo);
  var OWN = "add-code add-markdown move-up move-down delete-cell".split(" ");
  list.querySelectorAll("button[data-action]").forEach(function (button) {
    if (OWN.indexOf(button.dataset.action) >= 0) button.disabled = false;
  });
})();
