// Back office actions: each <form data-action> posts its fields to the applications API.
(function () {
  "use strict";
  var dt = window.drivethru;
  var NUMBERS = { amount_rupiah: true };
  function bodyOf(form, action) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.value === "") { return; }
      body[input.name] = NUMBERS[input.name] ? parseInt(input.value, 10) : input.value.trim();
    });
    if (action === "delegates" && body.expires) {
      body.expires_at = body.expires + "T23:59:00+00:00";
      delete body.expires;
    }
    return body;
  }
  function urlOf(form, action) {
    if (action === "submit") { return "/api/applications"; }
    var row = form.closest("tr");
    return "/api/applications/" + encodeURIComponent(row.dataset.id) + "/" + action;
  }
  // The list comes from the read models, a moment behind the write: wait until they show it.
  function reloadWhenShown(id, status) {
    var tries = 0;
    function poll() {
      dt.call("GET", "/api/applications?status=" + encodeURIComponent(status)).then(function (rows) {
        if (rows.some(function (r) { return r.id === id; }) || ++tries > 25) { window.location.reload(); }
        else { setTimeout(poll, 120); }
      }).catch(function () { window.location.reload(); });
    }
    poll();
  }
  function showCode(answer) {
    var dialog = document.getElementById("code-dialog");
    document.getElementById("code-text").textContent = answer.code;
    var link = document.getElementById("code-link");
    link.href = answer.status_url;
    link.textContent = window.location.origin + answer.status_url;
    dt.call("POST", "/office/qr", { code: answer.code }).then(function (qr) {
      document.getElementById("code-qr").innerHTML = qr.svg; // SVG made by our server
    });
    dialog.addEventListener("close", function () {
      reloadWhenShown(answer.permit.id, answer.permit.status);
    }, { once: true });
    dialog.showModal();
  }
  document.querySelectorAll("form[data-action]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var action = form.dataset.action;
      var cell = form.closest("td");
      var out = form.querySelector(".outcome") || (cell && cell.querySelector(".outcome"));
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      dt.call("POST", urlOf(form, action), bodyOf(form, action)).then(function (answer) {
        if (answer && answer.code) { showCode(answer); return; }
        var permit = answer && answer.permit ? answer.permit : answer;
        reloadWhenShown(permit.id, permit.status);
      }).catch(function (err) {
        button.disabled = false;
        if (out) { out.textContent = err.message; out.className = "outcome error"; }
      });
    });
  });
})();
