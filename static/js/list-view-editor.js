// The list-view editor, made quicker: columns are shown, hidden and reordered in place
// (drag with SortableJS, or the arrow buttons) and filter rows are removed in place.
// Without this file every one of those buttons submits the form and the server answers
// with the editor changed, so nothing here is needed for the editor to work.
(function () {
  "use strict";

  function items(list) {
    return Array.prototype.slice.call(list.querySelectorAll(".lv-col"));
  }

  function renumber(list) {
    items(list).forEach(function (li, i) {
      li.querySelector(".lv-col-pos").textContent = String(i + 1);
    });
    var empty = document.querySelector(".lv-shown-empty");
    if (empty) empty.hidden = items(list).length > 0;
  }

  function findItem(list, key) {
    return items(list).filter(function (li) { return li.dataset.key === key; })[0] || null;
  }

  // The buttons' words come from the list's data attributes (rendered in the page's
  // language by the template, "{label}" standing for the column); English is the fallback.
  var ENGLISH = { up: "Move {label} up", down: "Move {label} down", remove: "Hide {label}" };

  function words(list, action, label) {
    var pattern = list.getAttribute("data-msg-" + action) || ENGLISH[action];
    return pattern.replace("{label}", function () { return label; });  // no "$" patterns
  }

  function addColumn(list, key, label) {
    var template = document.getElementById("lv-col-template");
    if (!template || findItem(list, key)) return;
    var li = template.content.firstElementChild.cloneNode(true);
    li.dataset.key = key;
    li.querySelector(".lv-col-label").textContent = label;  // text, never HTML
    li.querySelector("input[name=order]").value = key;
    li.querySelectorAll("[data-lv-move]").forEach(function (button) {
      var action = button.getAttribute("data-lv-move");
      button.value = action + ":" + key;
      button.setAttribute("aria-label", words(list, action, label));
    });
    list.appendChild(li);
    renumber(list);
  }

  function checkbox(form, key) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=show]"))
      .filter(function (box) { return box.value === key; })[0] || null;
  }

  function move(form, list, button) {
    var li = button.closest(".lv-col");
    var action = button.getAttribute("data-lv-move");
    if (action === "remove") {
      var box = checkbox(form, li.dataset.key);
      if (box) { box.checked = false; box.focus(); }
      li.remove();
    } else if (action === "up" && li.previousElementSibling) {
      list.insertBefore(li, li.previousElementSibling);
      button.focus();
    } else if (action === "down" && li.nextElementSibling) {
      list.insertBefore(li.nextElementSibling, li);
      button.focus();
    }
    renumber(list);
  }

  function init() {
    var form = document.getElementById("lv-form");
    var list = document.getElementById("lv-shown-list");
    if (!form || !list) return;
    form.classList.add("lv-live");
    if (window.Sortable) {
      window.Sortable.create(list, {
        handle: ".drag-handle",
        animation: 150,
        ghostClass: "lv-ghost",
        onEnd: function () { renumber(list); }
      });
    }
    form.addEventListener("change", function (evt) {
      var box = evt.target;
      if (box.name !== "show") return;
      if (box.checked) {
        addColumn(list, box.value, box.getAttribute("data-label") || box.value);
      } else {
        var li = findItem(list, box.value);
        if (li) li.remove();
        renumber(list);
      }
    });
    form.addEventListener("click", function (evt) {
      var button = evt.target.closest("[data-lv-move]");
      if (button && list.contains(button)) {
        evt.preventDefault();
        move(form, list, button);
        return;
      }
      var remove = evt.target.closest("[data-lv-remove]");
      if (remove) {
        evt.preventDefault();
        var row = remove.closest(".lv-filter");
        if (row) row.remove();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
