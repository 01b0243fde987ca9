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

// Rows that reorder by dragging (picklist values): SortableJS, when the page loads it.
(function () {
  "use strict";
  function initSortable(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll(".sortable-rows").forEach(function (el) {
      if (el.dataset.sortable) return;
      el.dataset.sortable = "1";
      Sortable.create(el, { handle: ".drag-handle", animation: 150 });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { initSortable(document); });
  document.addEventListener("htmx:afterSwap", function () { initSortable(document); });
})();

// The key follows the label until the administrator types in it.
document.addEventListener("input", function (evt) {
  if (evt.target && evt.target.id === "key") {
    var flag = document.getElementById("key_edited");
    if (flag) flag.value = evt.target.value ? "1" : "";
  }
});
