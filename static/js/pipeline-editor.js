// The pipeline editor: stage rows reorder by dragging their handle (SortableJS in fallback
// mode: the same on a mouse, a touch screen and in a browser test). The rows' inputs are
// posted in the order shown, so the order needs no hidden field. After a drop the board
// preview is asked again (htmx listens for "stages-reordered" on the rows' container).
(function () {
  "use strict";
  function init(root) {
    if (!window.Sortable) return;
    root.querySelectorAll("[data-stage-rows]").forEach(function (el) {
      if (el._plSortable) return;
      el._plSortable = window.Sortable.create(el, {
        handle: ".drag-handle",
        animation: 150,
        forceFallback: true,
        fallbackOnBody: true,
        onEnd: function () {
          el.dispatchEvent(new CustomEvent("stages-reordered", { bubbles: true }));
        },
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function () { init(document); });
})();
