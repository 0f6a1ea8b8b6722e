// LTI Dynamic Registration: tell the LMS that opened this page that the tool is registered,
// so it closes the frame or window and finishes its side.
(function () {
  "use strict";
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) {
    target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  }
})();
