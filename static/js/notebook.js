// The exercise page: CodeMirror editors, the live kernel (runs over fetch, outputs over
// Server-Sent Events) and automatic drafts; submission is notebook-submit.js's.
// Kernel outputs arrive sanitised by the server; text is still only ever set as text.
// The learner's own cells (added-cells.js) are set up here too: this file walks the page's
// cells in their current order for drafts, "Run all" and submission.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("notebook-config").textContent);
  var S = config.strings;
  var URLS = config.urls;
  var cells = {};          // key -> {el, editor, outputs, prompt, role}
  var kernelState = "none";
  var noAnswerTimer = null;

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body, extra) {
    var options = {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {})
    };
    for (var k in extra || {}) options[k] = extra[k];
    return fetch(url, options);
  }

  // Keys of the code cells on the page, in page order (a deleted cell is not on it).
  function codeKeys() {
    var keys = [];
    document.querySelectorAll(".notebook-cells li.cell-code").forEach(function (li) {
      if (cells[li.dataset.key]) keys.push(li.dataset.key);
    });
    return keys;
  }

  // ------------------------------------------------------------------ editors

  function setupCell(li) {
    var key = li.dataset.key;
    var textarea = li.querySelector("textarea.source");
    var readOnly = li.classList.contains("readonly");
    var cell = {
      el: li, key: key, role: li.dataset.role, gradeId: li.dataset.gradeId || null,
      outputs: li.querySelector(".outputs"), prompt: li.querySelector(".prompt"),
      editor: null, textarea: textarea
    };
    if (window.CodeMirror) {
      // Tab indents in an answer cell; after Escape (or anywhere in a read-only cell) Tab
      // and Shift+Tab are left to the browser, so no editor traps the keyboard.
      var escaped = false;
      cell.editor = window.CodeMirror.fromTextArea(textarea, {
        mode: "python", lineNumbers: true, indentUnit: 4, matchBrackets: true,
        readOnly: readOnly, viewportMargin: Infinity,
        extraKeys: {
          "Shift-Enter": function () { runCells([key]); },
          "Esc": function () { escaped = true; },
          "Tab": function (cm) { cm.execCommand(cm.somethingSelected() ? "indentMore" : "insertSoftTab"); }
        }
      });
      cell.editor.on("keydown", function (cm, event) {
        if (event.key === "Tab" && (readOnly || escaped)) event.codemirrorIgnore = true;
        else if (event.key !== "Escape" && event.key !== "Shift") escaped = false;
      });
      cell.editor.on("blur", function () { escaped = false; });
      var input = cell.editor.getInputField();
      if (textarea.hasAttribute("aria-labelledby")) input.setAttribute("aria-labelledby", textarea.getAttribute("aria-labelledby"));
      else input.setAttribute("aria-label", textarea.getAttribute("aria-label"));
      input.setAttribute("aria-describedby", "keyboard-help");
      if (readOnly) input.setAttribute("aria-readonly", "true");
      cell.editor.on("change", function () { if (!readOnly) scheduleSave(); });
    } else {
      textarea.addEventListener("input", scheduleSave);
    }
    var run = li.querySelector("button.run-cell");
    run.addEventListener("click", function () { runCells([key]); });
    run.disabled = false;  // the page serves it disabled: a click before this script is not lost
    var toggle = li.querySelector("button[data-action=toggle-cell]");
    if (toggle) {
      toggle.addEventListener("click", function () { toggleCell(cell, toggle); });
      toggle.disabled = false;
    }
    cells[key] = cell;
  }

  // A long cell (a setup cell of hundreds of lines) folds away; its code still runs.
  function toggleCell(cell, button) {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? button.dataset.collapse : button.dataset.expand;
    document.getElementById(button.getAttribute("aria-controls")).hidden = !open;
    if (open && cell.editor) cell.editor.refresh();
  }

  function source(cell) {
    return cell.editor ? cell.editor.getValue() : cell.textarea.value;
  }

  // ------------------------------------------------------------------ drafts

  var saveTimer = null;
  var saveStatus = document.getElementById("save-status");

  // "All changes saved" only once the last change is saved: not while one waits its turn.
  function scheduleSave() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 800);
    saveStatus.textContent = S.saving;
  }

  // The learner's cells in page order: each instructor cell by key, each added cell with
  // the key of the instructor cell above it.
  function draftBody() {
    var sources = {};
    var added = [];
    var after = "";
    document.querySelectorAll(".notebook-cells > li.cell").forEach(function (li) {
      if (li.classList.contains("cell-added")) {
        added.push({ id: li.dataset.addedId, after: after, cell_type: li.dataset.cellType, source: cellSource(li) });
        return;
      }
      after = li.dataset.key;
      if (li.classList.contains("cell-written")) sources[li.dataset.key] = li.querySelector("textarea.written-source").value;
      else if (cells[li.dataset.key] && !li.classList.contains("readonly")) sources[li.dataset.key] = source(cells[li.dataset.key]);
    });
    return { cells: sources, added: added };
  }

  function cellSource(li) {
    if (cells[li.dataset.key]) return source(cells[li.dataset.key]);
    var textarea = li.querySelector("textarea.source");
    return textarea ? textarea.value : "";
  }

  // Written (Markdown) answers: plain textareas, previewed by written-answers.js.
  function writtenAnswers() {
    var found = [];
    document.querySelectorAll(".notebook-cells li.cell-written").forEach(function (li) {
      found.push({ key: li.dataset.key, gradeId: li.dataset.gradeId, textarea: li.querySelector("textarea.written-source") });
    });
    return found;
  }

  function saveDraft(keepalive) {
    clearTimeout(saveTimer);
    saveTimer = null;
    saveStatus.textContent = S.saving;
    return post(URLS.draft, draftBody(), keepalive ? { keepalive: true } : null)
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        if (!saveTimer) saveStatus.textContent = S.saved;
      })
      .catch(function () {
        saveStatus.textContent = S.save_failed;
        saveTimer = setTimeout(saveDraft, 5000);
      });
  }

  window.addEventListener("pagehide", function () { if (saveTimer) saveDraft(true); });

  // ------------------------------------------------------------------ kernel

  var kernelStatus = document.getElementById("kernel-status");

  function showKernel(state, reason, event) {
    kernelState = state;
    var text = S["kernel_" + state + (reason === "environment" ? "_environment" : "")] || S["kernel_" + state] || "";
    if (state === "dead") text = fmt(text, { reason: S["reason_" + reason] || S.reason_dead });
    else if (event) text = fmt(text, { limit: event.limit, place: event.place, eta_s: event.eta_s, minutes: event.minutes });
    kernelStatus.textContent = text;
    kernelStatus.dataset.state = state;
  }

  function clearOutputs(cell) {
    cell.outputs.textContent = "";
    delete cell.outputs.dataset.lastStream;
  }

  function appendOutput(cell, output) {
    var box = cell.outputs;
    var node;
    if (output.type === "stream") {
      var last = box.lastElementChild;
      if (last && last.dataset.stream === output.name) {
        last.textContent += output.text;
        return;
      }
      node = document.createElement("pre");
      node.className = "output stream " + output.name;
      node.dataset.stream = output.name;
      node.textContent = output.text;
    } else if (output.type === "error") {
      node = document.createElement("pre");
      node.className = "output error";
      node.textContent = output.traceback;
    } else if (output.type === "image") {
      node = document.createElement("img");
      node.className = "output image";
      node.alt = output.alt || "";
      node.src = "data:image/png;base64," + output.png;
    } else if (output.type === "html") {
      node = document.createElement("div");
      node.className = "output html";
      node.innerHTML = output.html;  // cleaned by nh3 on the server
    } else if (output.type === "text") {
      node = document.createElement("pre");
      node.className = "output text";
      node.textContent = output.text;
    } else {
      return;
    }
    box.appendChild(node);
  }

  function setPrompt(cell, text) {
    if (cell.prompt) cell.prompt.textContent = "[" + text + "]";
  }

  function onRunEvent(event) {
    var cell = cells[event.cell];
    if (!cell) return;
    if (event.type === "output") { appendOutput(cell, event.output); return; }
    cell.el.dataset.state = event.state;
    if (event.state === "running") {
      clearTimeout(noAnswerTimer);
      clearOutputs(cell);
      setPrompt(cell, "*");
      showKernel("running");
    } else if (event.state === "done" || event.state === "error") {
      setPrompt(cell, event.count || " ");
      if (kernelState === "running") showKernel("ready");
    } else if (event.state === "skipped") {
      setPrompt(cell, " ");
      clearOutputs(cell);
      var note = document.createElement("p");
      note.className = "output skipped";
      note.textContent = event.reason === "interrupted" ? S.skipped_interrupted : S.skipped;
      cell.outputs.appendChild(note);
    }
  }

  function onEvent(message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    if (event.type === "hello") {
      if (kernelState === "none" || kernelState === "ready") showKernel(event.kernel === "ready" ? "ready" : "none");
    } else if (event.type === "kernel") {
      clearTimeout(noAnswerTimer);
      showKernel(event.state, event.reason, event);
      // A kernel about to end, or ended, keeps nothing: the draft must be saved now.
      if (["idle_warning", "culled", "evicted", "lost"].indexOf(event.state) >= 0 && saveTimer) saveDraft();
      if (["restarted", "culled", "dead", "stopped", "unavailable", "evicted", "lost"].indexOf(event.state) >= 0) {
        codeKeys().forEach(function (key) {
          var cell = cells[key];
          if (cell.el.dataset.state === "running" || cell.el.dataset.state === "queued") cell.el.dataset.state = "";
          setPrompt(cell, " ");
        });
      }
    } else {
      onRunEvent(event);
    }
  }

  var events = new EventSource(URLS.events);
  events.onmessage = onEvent;

  function runCells(keys) {
    var payload = keys.map(function (key) {
      var cell = cells[key];
      cell.el.dataset.state = "queued";
      setPrompt(cell, "*");
      return { key: key, code: source(cell) };
    });
    clearTimeout(noAnswerTimer);
    noAnswerTimer = setTimeout(function () { showKernel("no_answer"); }, 30000);
    return post(URLS.run, { cells: payload }).then(function (response) {
      if (response.ok) return;
      clearTimeout(noAnswerTimer);
      payload.forEach(function (run) { cells[run.key].el.dataset.state = ""; setPrompt(cells[run.key], " "); });
      return response.json().then(function (body) {
        if (!body.error) throw new Error(response.status);
        kernelStatus.textContent = body.error;  // the server's message, e.g. the quota's
        kernelStatus.dataset.state = "refused";
      });
    }).catch(function () { showKernel("unavailable"); });
  }

  function kernelAction(url) {
    return post(url, {}).catch(function () { showKernel("unavailable"); });
  }

  // ------------------------------------------------------------------ wiring

  document.querySelectorAll(".notebook-cells li.cell-code").forEach(setupCell);
  writtenAnswers().forEach(function (answer) { answer.textarea.addEventListener("input", scheduleSave); });
  document.querySelectorAll(".notebook-cells li.cell-added textarea.written-source").forEach(function (textarea) {
    textarea.addEventListener("input", scheduleSave);
  });
  document.querySelector("[data-action=run-all]").addEventListener("click", function () { runCells(codeKeys()); });
  document.querySelector("[data-action=interrupt]").addEventListener("click", function () { kernelAction(URLS.interrupt); });
  document.querySelector("[data-action=restart]").addEventListener("click", function () { kernelAction(URLS.restart); });
  document.querySelectorAll(".notebook-toolbar button[disabled]").forEach(function (button) { button.disabled = false; });

  // For added-cells.js (set up a new code cell, save after a change of cells) and
  // notebook-submit.js (the cells' sources, the draft saved first).
  window.exerciseNotebook = {
    setupCell: setupCell, scheduleSave: scheduleSave, saveDraft: saveDraft, post: post, fmt: fmt,
    sourceOf: cellSource, editorOf: function (key) { return cells[key] && cells[key].editor; }
  };
})();
