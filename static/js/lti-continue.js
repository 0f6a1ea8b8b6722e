// After a launch inside the LMS's iframe: if the session cookie came back, go on to the
// page; if the browser dropped it, say so and leave the new-window link to the person.
(function () {
  "use strict";
  var box = document.getElementById("lti-continue");
  if (!box) {
    return;
  }
  fetch(box.dataset.check, { credentials: "same-origin", cache: "no-store" })
    .then(function (response) { return response.json(); })
    .then(function (state) {
      if (state.authenticated) {
        window.location.replace(box.dataset.target);
        return;
      }
      document.getElementById("lti-continue-checking").hidden = true;
      document.getElementById("lti-continue-blocked").hidden = false;
    })
    .catch(function () {
      document.getElementById("lti-continue-checking").hidden = true;
      document.getElementById("lti-continue-blocked").hidden = false;
    });
})();
