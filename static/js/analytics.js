// Dashboards (templates/analytics/dashboard.html): SortableJS lets the owner drag tiles by
// their handle; the form holding the tiles (one hidden "tile" input each, in grid order)
// is then posted by htmx on its "tiles-moved" event. Without JavaScript the form's
// "Save order" button posts the same order.
(function () {
  "use strict";

  function setUp() {
    var grid = document.querySelector("[data-sortable-tiles]");
    if (!grid || typeof Sortable === "undefined" || grid.dataset.ready) return;
    grid.dataset.ready = "1";
    Sortable.create(grid, {
      draggable: ".an-tile",
      handle: ".an-handle",
      animation: 120,
      forceFallback: true,
      fallbackTolerance: 3,
      onEnd: function (evt) {
        if (evt.oldIndex === evt.newIndex) return;
        htmx.trigger(document.getElementById("tile-order"), "tiles-moved");
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
