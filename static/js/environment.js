// A course's environment on its settings page: while it is queued or building, its status,
// pip's message and the build log are fetched every two seconds.
(function () {
  "use strict";
  var box = document.getElementById("environment-status");
  if (!box || box.dataset.busy !== "1") return;
  var label = box.querySelector(".environment-label");
  var message = box.querySelector(".environment-message");
  var progress = box.querySelector(".environment-progress");

  function show(state) {
    box.dataset.status = state.status;
    label.textContent = state.label;
    message.textContent = state.message;
    message.hidden = !state.message;
    progress.querySelector("pre").textContent = state.progress;
    progress.hidden = !state.progress;
  }

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state) show(state);
        if (!state || state.busy) setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
