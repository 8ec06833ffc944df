// Small helpers the staff pages share: JSON calls with the session cookie, bilingual errors.
(function () {
  "use strict";
  function errorText(status, body) {
    var err = body && body.error;
    if (err) {
      var en = document.documentElement.lang === "en";
      return (en ? err.message_en : err.message_id) || err.message;
    }
    if (body && body.detail) { return JSON.stringify(body.detail); }
    return "HTTP " + status;
  }
  window.drivethru = {
    call: function (method, url, body) {
      return fetch(url, {
        method: method,
        credentials: "same-origin",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body)
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (b) {
          if (!r.ok) { throw new Error(errorText(r.status, b)); }
          return b;
        });
      });
    },
    newId: function () {
      // getRandomValues works on plain http too, where randomUUID does not.
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    },
    labels: function (id) {
      var t = document.getElementById(id || "i18n");
      return t ? t.innerHTML.split("|").map(function (s) { return s.trim(); }) : [];
    }
  };
})();
