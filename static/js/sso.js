// University sign-in on the login page: a live search by university name or email domain,
// and, for an address of an SSO-only university, the password form makes way for its
// sign-in. Without JavaScript the search form still works (a GET to the search page) and
// the server refuses the password with the same message.
(function () {
  "use strict";
  var input = document.querySelector("[data-sso-search]");
  if (!input) { return; }
  var jsonUrl = input.getAttribute("data-sso-search") + "search.json";
  var results = document.getElementById("university-results");
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  var nextInput = document.querySelector(".university-search input[name=next]");
  var section = document.getElementById("university-sign-in");
  var strings = {
    none: section.getAttribute("data-none"),
    signInWith: section.getAttribute("data-sign-in-with"),
    ssoOnly: section.getAttribute("data-sso-only")
  };

  function signInForm(url, label) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = url;
    if (csrf) { form.appendChild(csrf.cloneNode()); }
    if (nextInput) { form.appendChild(nextInput.cloneNode()); }
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = label;
    form.appendChild(button);
    return form;
  }

  function lookup(query, done) {
    fetch(jsonUrl + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { done(data); } })
      .catch(function () { /* the GET form still works */ });
  }

  function showResults(data) {
    results.textContent = "";
    if (!data.results.length) {
      var none = document.createElement("p");
      none.textContent = strings.none;
      results.appendChild(none);
      return;
    }
    var list = document.createElement("ul");
    list.className = "university-results";
    data.results.forEach(function (item) {
      var li = document.createElement("li");
      li.appendChild(signInForm(item.url, strings.signInWith.replace("%(name)s", item.name)));
      var protocol = document.createElement("span");
      protocol.className = "protocol";
      protocol.textContent = item.protocol;
      li.appendChild(protocol);
      list.appendChild(li);
    });
    results.appendChild(list);
  }

  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var query = input.value.trim();
    if (query.length < 2) { results.textContent = ""; return; }
    timer = setTimeout(function () { lookup(query, showResults); }, 250);
  });

  // The password form: hidden for an address whose university signs its people in itself.
  var login = document.querySelector("form input[name=login]");
  var password = document.querySelector("form input[name=password]");
  if (!login || !password) { return; }
  var loginForm = login.form;
  var notice = document.createElement("div");
  notice.className = "sso-only-notice";
  notice.setAttribute("role", "status");
  notice.hidden = true;
  loginForm.parentNode.insertBefore(notice, loginForm.nextSibling);
  var hideable = [password.closest("p, div") || password];
  loginForm.querySelectorAll("button[type=submit]").forEach(function (b) { hideable.push(b); });
  loginForm.querySelectorAll("a[href*='password/reset']").forEach(function (a) { hideable.push(a); });

  function setSsoOnly(target) {
    hideable.forEach(function (element) { element.hidden = Boolean(target); });
    password.disabled = Boolean(target);
    notice.textContent = "";
    notice.hidden = !target;
    if (target) {
      var text = document.createElement("p");
      text.textContent = strings.ssoOnly.replace("%(name)s", target.name);
      notice.appendChild(text);
      notice.appendChild(signInForm(target.url, strings.signInWith.replace("%(name)s", target.name)));
    }
  }

  var loginTimer = null;
  function check() {
    clearTimeout(loginTimer);
    var email = login.value.trim();
    if (email.indexOf("@") < 1) { setSsoOnly(null); return; }
    loginTimer = setTimeout(function () {
      lookup(email, function (data) { setSsoOnly(data.sso_only); });
    }, 200);
  }
  login.addEventListener("input", check);
  login.addEventListener("change", check);
  check();
})();
