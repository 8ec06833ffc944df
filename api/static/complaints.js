// The complaints screen: each row's answer and close forms post to the complaints API.
(function () {
  "use strict";
  var dt = window.drivethru;
  document.querySelectorAll("#complaints form[data-action]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var row = form.closest("tr");
      var out = row.querySelector(".outcome");
      var button = form.querySelector("button[type=submit]");
      var body = {};
      Array.prototype.forEach.call(form.elements, function (input) {
        if (input.name) { body[input.name] = input.value.trim(); }
      });
      button.disabled = true;
      var url = "/api/complaints/" + encodeURIComponent(row.dataset.id) + "/" + form.dataset.action;
      dt.call("POST", url, body).then(function () {
        window.location.reload();
      }).catch(function (err) {
        button.disabled = false;
        out.textContent = err.message;
        out.className = "outcome error";
      });
    });
  });
})();
