// Kanban boards (templates/pipelines/board.html): SortableJS drags cards between columns,
// htmx posts the move. The server answers with a notice and a "board-changed" event (the
// board reads its columns and totals again: a refused card goes back where it is stored),
// or, when the stage needs values first, with a dialog asking for them. While a card's
// move is in flight it cannot be dragged again. Without JavaScript every card has a
// "Move to…" form, which still works (and is shown on keyboard focus) here.
(function () {
  "use strict";

  var sortables = [];

  function dialog() { return document.getElementById("board-dialog"); }

  function refresh() {
    htmx.trigger(document.body, "board-changed");
  }

  function move(card, stage) {
    if (card.classList.contains("is-moving")) return;
    card.classList.add("is-moving");
    var values = {
      stage: stage,
      version: card.getAttribute("data-version"),
      from: card.getAttribute("data-stage")
    };
    var pipeline = card.querySelector("input[name=pipeline]");
    if (pipeline) values.pipeline = pipeline.value;
    htmx.ajax("POST", card.getAttribute("data-move-url"), {
      source: card, target: "#board-notice", swap: "innerHTML", values: values
    }).then(function () {
      card.classList.remove("is-moving");
    }, function () {
      card.classList.remove("is-moving");
      refresh();
    });
  }

  function setUp() {
    sortables.forEach(function (s) { s.destroy(); });
    sortables = [];
    var board = document.querySelector("[data-board]");
    if (!board || typeof Sortable === "undefined") return;
    document.body.classList.add("js-board");
    board.querySelectorAll(".board-cards[data-stage]").forEach(function (list) {
      sortables.push(Sortable.create(list, {
        group: "board",
        draggable: ".board-card",
        filter: ".is-moving, select, button, input",
        preventOnFilter: false,
        animation: 120,
        // The same drag on every browser and for pointer-driven tests (as the layout
        // editor does); a small move first, so a click on the card's link stays a click.
        forceFallback: true,
        fallbackTolerance: 3,
        onEnd: function (evt) {
          var card = evt.item;
          var to = evt.to.getAttribute("data-stage");
          if (!to || evt.from === evt.to) return;
          move(card, to);
        }
      }));
    });
  }

  document.addEventListener("DOMContentLoaded", setUp);
  document.addEventListener("htmx:afterSettle", function (evt) {
    if (evt.detail.elt && evt.detail.elt.matches && evt.detail.elt.matches("[data-board]")) setUp();
  });
  // A failed move (a page of error, no answer): the board shows what is stored.
  document.addEventListener("htmx:responseError", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.closest && elt.closest(".board-card")) refresh();
  });
  document.addEventListener("htmx:sendError", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.closest && elt.closest(".board-card")) refresh();
  });

  // The gate dialog: opened when its form arrives, closed when the move is saved.
  document.addEventListener("htmx:afterSwap", function (evt) {
    var d = dialog();
    if (d && evt.detail.target && evt.detail.target.id === "board-dialog-body" && !d.open) {
      d.showModal();
      var first = d.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    }
  });
  document.addEventListener("board-moved", function () {
    var d = dialog();
    if (d && d.open) d.close();
  });
  document.addEventListener("click", function (evt) {
    var closer = evt.target.closest && evt.target.closest("#board-dialog [data-dialog-close]");
    var d = dialog();
    if (closer && d && d.open) d.close();
  });
  document.addEventListener("close", function (evt) {
    if (evt.target && evt.target.id === "board-dialog") {
      var body = document.getElementById("board-dialog-body");
      if (body) body.innerHTML = "";
    }
  }, true);
  // The pipeline picker shows its board at once.
  document.addEventListener("change", function (evt) {
    var select = evt.target.closest && evt.target.closest("[data-board-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });
})();
