// The operations page: the workers' cards come from a broadcast that waits a second for
// their answers, so they are asked for after the page has shown.
(function () {
  "use strict";
  var box = document.getElementById("worker-cards");
  if (!box) return;
  fetch(box.dataset.url, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.text() : null; })
    .then(function (html) { if (html !== null) box.innerHTML = html; });
})();
