// Submitting the exercise page's notebook, and its grading followed live (Server-Sent
// Events). The cells are read in page order; notebook.js supplies their sources.
(function () {
  "use strict";

  var notebook = window.exerciseNotebook;
  if (!notebook) return;
  var config = JSON.parse(document.getElementById("notebook-config").textContent);
  var S = config.strings;
  var URLS = config.urls;

  var feedbackBox = document.getElementById("submission-feedback");

  // What is submitted, in page order: answers, the cells the learner added, and for every
  // other graded cell an empty placeholder saying where it is (so a grader reads the cells
  // added under a task under it). The server takes nothing else from it.
  function answerNotebook() {
    var nbCells = [];
    document.querySelectorAll(".notebook-cells > li.cell").forEach(function (li) {
      var gradeId = li.dataset.gradeId;
      var role = li.dataset.role;
      if (li.classList.contains("cell-added")) {
        nbCells.push(notebookCell(li.dataset.cellType, {}, notebook.sourceOf(li)));
      } else if (li.classList.contains("cell-written")) {
        nbCells.push(notebookCell("markdown", { nbgrader: { grade_id: gradeId } }, li.querySelector("textarea.written-source").value));
      } else if (gradeId && (role === "answer" || role === "manual") && li.classList.contains("cell-code")) {
        nbCells.push(notebookCell("code", { nbgrader: { grade_id: gradeId } }, notebook.sourceOf(li)));
      } else if (gradeId) {
        nbCells.push({ cell_type: "raw", metadata: { nbgrader: { grade_id: gradeId } }, source: "" });
      }
    });
    return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: nbCells };
  }

  function notebookCell(type, metadata, text) {
    var cell = { cell_type: type, metadata: metadata, source: text };
    if (type === "code") { cell.outputs = []; cell.execution_count = null; }
    return cell;
  }

  function say(text, className) {
    feedbackBox.textContent = "";
    var p = document.createElement("p");
    p.className = className || "";
    p.textContent = text;
    feedbackBox.appendChild(p);
    return p;
  }

  function testsTable(tests) {
    var table = document.createElement("table");
    table.className = "tests-table";
    var head = table.createTHead().insertRow();
    [S.test, S.result, S.points, S.message].forEach(function (label) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = label;
      head.appendChild(th);
    });
    var body = table.createTBody();
    tests.forEach(function (test) {
      var row = body.insertRow();
      row.insertCell().textContent = test.grade_id + (test.hidden ? " (" + S.hidden_test + ")" : "");
      var result = row.insertCell();
      result.className = "status-" + test.status;
      result.textContent = S["status_" + test.status] || test.status;
      row.insertCell().textContent = test.points + " / " + test.max_points;
      messageCell(row.insertCell(), test);
    });
    return table;
  }

  // The message, and for a visible test the failing lines and the error (plain text).
  function messageCell(cell, test) {
    cell.textContent = test.message;
    if (!test.traceback) return;
    var pre = document.createElement("pre");
    pre.className = "traceback";
    pre.textContent = test.traceback;
    cell.appendChild(pre);
  }

  // While the course's environment is being prepared (or failed), a queued submission
  // waits for it: the server's notice says so, and stays until grading starts.
  var environmentNotice = null;

  function showState(state) {
    if (state.environment !== undefined) environmentNotice = state.environment;
    if (state.status === "queued" && environmentNotice) say(environmentNotice.message, "notice");
    else if (state.status === "queued") say(S.submit_queued);
    else if (state.status === "running") say(S.submit_running);
    else if (state.status === "graded") {
      say(notebook.fmt(S.submit_graded, { score: state.score, max: state.max_score }), "score");
      if (state.tests) feedbackBox.appendChild(testsTable(state.tests));
    } else if (state.status === "failed") say(notebook.fmt(S.submit_failed, { reason: state.reason || "" }), "bad");
    else if (state.status === "error") say(S.submit_error, "bad");
  }

  function refreshHistory() {
    fetch(URLS.history + "?format=html", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) document.getElementById("history").innerHTML = html; });
  }

  function follow(eventsUrl) {
    var stream = new EventSource(eventsUrl);
    stream.addEventListener("status", function (message) {
      var state = JSON.parse(message.data);
      showState(state);
      if (["graded", "failed", "error"].indexOf(state.status) >= 0) {
        stream.close();
        refreshHistory();
      }
    });
    stream.onerror = function () { if (stream.readyState === EventSource.CLOSED) refreshHistory(); };
  }

  function submit(button) {
    button.disabled = true;
    notebook.saveDraft();
    notebook.post(URLS.submit, answerNotebook())
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) { say(result.body.error || S.submit_network, "bad"); return; }
        showState(result.body);
        refreshHistory();
        follow(result.body.events_url);
      })
      .catch(function () { say(S.submit_network, "bad"); })
      .then(function () { button.disabled = false; });
  }

  var submitButton = document.querySelector("[data-action=submit]");
  if (submitButton) submitButton.addEventListener("click", function () { submit(submitButton); });
  // Served disabled until now; a closed exercise's button stays disabled.
  if (submitButton && !document.getElementById("submit-closed")) submitButton.disabled = false;
})();
