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
  // A time the server marked with the site's zone stays on the site's clock, named (WITA);
  // others are shown on the device's clock.
  function localTimes(scope) {
    var locale = root.lang === "en" ? "en-GB" : "id-ID";
    scope.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { return; }
      var options = { dateStyle: "medium", timeStyle: "short" };
      var zone = el.getAttribute("data-zone");
      if (zone) { options.timeZone = zone; }
      var text;
      try { text = new Intl.DateTimeFormat(locale, options).format(d); } catch (e) { return; }
      var name = el.getAttribute("data-zone-name");
      el.textContent = name ? text + " " + name : text;
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
