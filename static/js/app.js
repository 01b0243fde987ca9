// Small progressive enhancements. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Notices fade out after a while; errors stay until the next page.
  function autoHide(root) {
    root.querySelectorAll(".notice-success, .notice-info").forEach(function (el) {
      setTimeout(function () { el.classList.add("is-hidden"); }, 6000);
    });
  }

  // The phone menu: one button opens and closes the panel.
  function initMenu() {
    var toggle = document.querySelector(".menu-toggle");
    if (!toggle) return;
    toggle.addEventListener("click", function () {
      var bar = toggle.closest(".topbar");
      var open = bar.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { autoHide(document); initMenu(); });
  document.addEventListener("htmx:afterSwap", function (evt) { autoHide(evt.target); });
})();
