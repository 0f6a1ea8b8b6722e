// Dates and times in the viewer's own locale and time zone. The server writes each one in
// a <time datetime="..."> element, in UTC and the site's format; this rewrites it, here and
// in whatever a page adds later (a refreshed history, for example).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  // The browser's own variant of the page's language: en-GB gives "6 Dec 2026", not 12/6.
  var locales = (navigator.languages || [navigator.language]).filter(function (l) {
    return l && l.split("-")[0] === lang;
  });
  locales.push(lang);
  var withTime = new Intl.DateTimeFormat(locales, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short"
  });
  var dateOnly = new Intl.DateTimeFormat(locales, {
    day: "numeric", month: "short", year: "numeric", timeZone: "UTC"
  });

  function localise(root) {
    if (!root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll("time[datetime]"));
    if (root.matches && root.matches("time[datetime]")) found.push(root);
    found.forEach(function (el) {
      if (el.dataset.localised) return;
      var value = el.getAttribute("datetime");
      var when = new Date(value);
      if (isNaN(when.getTime())) return;
      el.textContent = (value.indexOf("T") >= 0 ? withTime : dateOnly).format(when);
      el.dataset.localised = "1";
    });
  }

  localise(document);
  new MutationObserver(function (changes) {
    changes.forEach(function (change) { change.addedNodes.forEach(localise); });
  }).observe(document.body, { childList: true, subtree: true });
})();
