// Passkeys on the web pages: register one (security page) and sign in with one (log-in
// pages). The server sends WebAuthn options as JSON with base64url byte fields; the
// browser's answer goes back the same way, posted with the page's CSRF token.
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, csrf, fields) {
    var body = new URLSearchParams();
    body.set("csrf", csrf);
    Object.keys(fields).forEach(function (k) { body.set(k, fields[k]); });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Qunzu-Fetch": "1", "X-CSRF-Token": csrf },
      body: body,
    }).then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok || data.ok === false) { throw new Error(data.detail || "HTTP " + res.status); }
        return data;
      });
    });
  }

  function credentialJson(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) { response.userHandle = toB64url(r.userHandle); }
    }
    return JSON.stringify({
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      response: response, clientExtensionResults: {},
    });
  }

  function showError(err) {
    var box = document.getElementById("passkey-error");
    if (box) { box.textContent = String(err && err.message || err); box.hidden = false; }
  }

  function register(button) {
    var csrf = button.dataset.csrf;
    post("/me/security/passkey/options", csrf, {}).then(function (made) {
      var o = made.options;
      o.challenge = toBytes(o.challenge);
      o.user.id = toBytes(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.create({ publicKey: o }).then(function (cred) {
        var label = document.getElementById("passkey-label");
        return post("/me/security/passkey", csrf, {
          challenge: made.challenge, credential: credentialJson(cred),
          label: label ? label.value : "",
        });
      });
    }).then(function (done) {
      if (done.recovery_codes) {
        var box = document.getElementById("passkey-codes");
        var list = box.querySelector("ol");
        done.recovery_codes.forEach(function (code) {
          var li = document.createElement("li");
          var c = document.createElement("code");
          c.textContent = code;
          li.appendChild(c);
          list.appendChild(li);
        });
        box.hidden = false;
      } else {
        window.location.assign(done.redirect || "/me/security");
      }
    }).catch(showError);
  }

  function signIn(button) {
    var csrf = button.dataset.csrf;
    var fields = button.dataset.challenge ? { challenge: button.dataset.challenge } : {};
    post("/login/passkey/options", csrf, fields).then(function (made) {
      var o = made.options;
      o.challenge = toBytes(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.get({ publicKey: o }).then(function (cred) {
        return post("/login/passkey", csrf, {
          challenge: made.challenge, credential: credentialJson(cred),
          next: button.dataset.next || "/",
        });
      });
    }).then(function (done) {
      window.location.assign(done.redirect || "/");
    }).catch(showError);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var reg = document.getElementById("passkey-register");
    if (reg) { reg.addEventListener("click", function () { register(reg); }); }
    var login = document.getElementById("passkey-login");
    if (login) { login.addEventListener("click", function () { signIn(login); }); }
  });
})();
