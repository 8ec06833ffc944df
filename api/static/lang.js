// Language switch (Bahasa Indonesia first) and local times. Loaded in <head> so the chosen
// language applies before the first paint.
(function () {
  "use strict";
  var root = document.documentElement;
  function apply(lang) {
    root.classList.toggle("en", lang === "en");
    root.lang = lang === "en" ? "en" : "id";
  }
  var saved = null;
  try { saved = window.localStorage.getItem("drivethru.lang"); } catch (e) { saved = null; }
  apply(saved === "en" ? "en" : "id");
  function localTimes(scope) {
    var fmt = new Intl.DateTimeFormat(root.lang === "en" ? "en-GB" : "id-ID",
      { dateStyle: "medium", timeStyle: "short" });
    scope.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d.getTime())) { el.textContent = fmt.format(d); }
    });
  }
  window.drivethruLocalTimes = localTimes;
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("lang-switch");
    localTimes(document);
    if (!button) { return; }
    button.setAttribute("aria-pressed", String(root.lang === "en"));
    button.addEventListener("click", function () {
      var next = root.lang === "en" ? "id" : "en";
      apply(next);
      try { window.localStorage.setItem("drivethru.lang", next); } catch (e) { /* private mode */ }
      button.setAttribute("aria-pressed", String(next === "en"));
      localTimes(document);
    });
  });
})();
