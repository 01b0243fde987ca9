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

// Lookup fields: typing searches (htmx fills the options); choosing an option sets the id.
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var option = evt.target.closest && evt.target.closest(".lookup-option");
    if (option) {
      var box = option.closest("[data-lookup]");
      box.querySelector("[data-lookup-value]").value = option.dataset.id;
      box.querySelector("[data-lookup-text]").value = option.dataset.label;
      box.querySelector(".lookup-options").innerHTML = "";
      return;
    }
    document.querySelectorAll(".lookup-options").forEach(function (list) {
      if (!list.parentNode.contains(evt.target)) list.innerHTML = "";
    });
  });
  document.addEventListener("input", function (evt) {
    if (evt.target && evt.target.matches && evt.target.matches("[data-lookup-text]")) {
      // A changed text no longer names the chosen record until an option is picked.
      evt.target.closest("[data-lookup]").querySelector("[data-lookup-value]").value = "";
    }
  });
})();
