// LTI Platform Storage (1EdTech "LTI Client Side postMessages"): where the browser may keep
// no cookie of ours inside the LMS's iframe, the LMS keeps the login's state and nonce for
// us. At the OIDC login ("put") they are stored through postMessage before the browser goes
// on to the LMS's authorization endpoint; at the launch ("get") they are read back in this
// browser, and only if both match does the launch form go on (a launch posted into another
// browser finds nothing there).
//
// Messages: lti.capabilities to the LMS window (which frame answers what), then
// lti.put_data / lti.get_data to that frame, sent to and accepted from the origin of the
// LMS's authorization endpoint only.
//
// A message posted to a frame that is not listening yet (the LMS's storage frame still
// loading, as on a busy machine) is lost without a trace, so each one is sent again, with
// the same message_id, until its answer comes: every message here may be repeated.
(function () {
  "use strict";
  var box = document.getElementById("lti-storage");
  if (!box) {
    return;
  }
  var data = box.dataset;
  var platform = window.opener || window.parent;
  // How long an LMS has to answer before we take it that it never will: lti.capabilities
  // goes unanswered by LMSs that predate it (their storage is then the login's
  // lti_storage_target), the storage messages only when the storage is gone.
  var CAPABILITIES_WAIT_MS = 5000;
  var STORAGE_WAIT_MS = 30000;
  var FIRST_RESEND_MS = 100;
  var MAX_RESEND_MS = 2000;

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // `target()` is asked again at each sending: the LMS may add its frame after ours.
  function send(target, targetOrigin, message, waitMs) {
    return new Promise(function (resolve, reject) {
      message.message_id = "osta-" + randomId();
      var resendMs = FIRST_RESEND_MS;
      var resend = null;
      var giveUp = null;
      function stop() {
        window.removeEventListener("message", listen);
        window.clearTimeout(resend);
        window.clearTimeout(giveUp);
      }
      function listen(event) {
        var reply = event.data;
        if (!reply || typeof reply !== "object" || reply.message_id !== message.message_id) {
          return;
        }
        if (targetOrigin !== "*" && event.origin !== targetOrigin) {
          return;
        }
        if (reply.subject !== message.subject + ".response") {
          return;
        }
        stop();
        if (reply.error) {
          reject(reply.error);
        } else {
          resolve(reply);
        }
      }
      function post() {
        target().postMessage(message, targetOrigin);
        resend = window.setTimeout(post, resendMs);
        resendMs = Math.min(resendMs * 2, MAX_RESEND_MS);
      }
      window.addEventListener("message", listen);
      giveUp = window.setTimeout(function () {
        stop();
        reject({ code: "timeout" });
      }, waitMs);
      post();
    });
  }

  function frameNamed(name) {
    if (!name || name === "_parent") {
      return platform;
    }
    try {
      if (platform.frames[name]) {
        return platform.frames[name];
      }
    } catch (error) {
      // A frame we may not name: the LMS window itself answers, if anyone does.
    }
    return platform;
  }

  // The name of the frame that answers `subject` (null: none does), from lti.capabilities,
  // else the login's lti_storage_target (LMSs that predate the capabilities message).
  function storage() {
    var toParent = function () { return platform; };
    return send(toParent, "*", { subject: "lti.capabilities" }, CAPABILITIES_WAIT_MS).then(
      function (capabilities) {
        var supported = capabilities.supported_messages || [];
        return function (subject) {
          for (var i = 0; i < supported.length; i += 1) {
            if (supported[i].subject === subject) {
              return supported[i].frame || data.target;
            }
          }
          return null;
        };
      },
      function () {
        return function () { return data.target; };
      }
    );
  }

  function call(frameFor, message) {
    var name = frameFor(message.subject);
    if (name === null) {
      return Promise.reject({ code: "unsupported_subject" });
    }
    var toFrame = function () { return frameNamed(name); };
    return send(toFrame, data.origin, message, STORAGE_WAIT_MS);
  }

  function put(frameFor, key, value) {
    return call(frameFor, { subject: "lti.put_data", key: key, value: value });
  }

  function matches(frameFor, key, expected) {
    return call(frameFor, { subject: "lti.get_data", key: key }).then(function (reply) {
      if (reply.value !== expected) {
        return Promise.reject({ code: "mismatch" });
      }
    });
  }

  function failed() {
    document.getElementById("lti-storage-working").hidden = true;
    document.getElementById("lti-storage-failed").hidden = false;
  }

  var stateKey = "lti_state_" + data.state;
  var nonceKey = "lti_nonce_" + data.nonce;
  if (platform === window) {
    // Not inside an LMS window: nothing keeps data for us here.
    if (data.mode === "put") {
      window.location.replace(data.next);
    } else {
      failed();
    }
    return;
  }
  storage().then(function (frameFor) {
    if (data.mode === "put") {
      // Stored or not, the login goes on: the cookie may hold, and the launch says if not.
      return put(frameFor, stateKey, data.state)
        .then(function () { return put(frameFor, nonceKey, data.nonce); })
        .catch(function () { return null; })
        .then(function () { window.location.replace(data.next); });
    }
    return matches(frameFor, stateKey, data.state)
      .then(function () { return matches(frameFor, nonceKey, data.nonce); })
      .then(function () {
        var form = document.getElementById("lti-storage-form");
        form.elements.lti_in_frame.value = window.parent !== window ? "1" : "";
        form.submit();
      }, failed);
  });
})();
