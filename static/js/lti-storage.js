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
(function () {
  "use strict";
  var box = document.getElementById("lti-storage");
  if (!box) {
    return;
  }
  var data = box.dataset;
  var platform = window.opener || window.parent;
  var WAIT_MS = 5000;

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function send(target, targetOrigin, message) {
    return new Promise(function (resolve, reject) {
      message.message_id = "osta-" + randomId();
      var timer = null;
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
        window.removeEventListener("message", listen);
        window.clearTimeout(timer);
        if (reply.error) {
          reject(reply.error);
        } else {
          resolve(reply);
        }
      }
      window.addEventListener("message", listen);
      timer = window.setTimeout(function () {
        window.removeEventListener("message", listen);
        reject({ code: "timeout" });
      }, WAIT_MS);
      target.postMessage(message, targetOrigin);
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

  // The frame that answers `subject`: from lti.capabilities, else the login's
  // lti_storage_target (LMSs that predate the capabilities message).
  function storage() {
    return send(platform, "*", { subject: "lti.capabilities" }).then(
      function (capabilities) {
        var supported = capabilities.supported_messages || [];
        return function (subject) {
          for (var i = 0; i < supported.length; i += 1) {
            if (supported[i].subject === subject) {
              return frameNamed(supported[i].frame || data.target);
            }
          }
          return null;
        };
      },
      function () {
        return function () { return frameNamed(data.target); };
      }
    );
  }

  function call(frameFor, message) {
    var frame = frameFor(message.subject);
    if (!frame) {
      return Promise.reject({ code: "unsupported_subject" });
    }
    return send(frame, data.origin, message);
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
