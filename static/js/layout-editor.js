// The layout editor: SortableJS for dragging fields, htmx for saving.
//
// The editor is a <form data-layout-editor="form|quick"> whose whole structure is posted as
// JSON in its hidden "layout" input. Every change (a drag, a title, a column count, a
// section added, moved or removed) serialises the DOM into that input and fires
// "layout-changed", which the form's hx-trigger turns into a save; the server answers with
// the editor block (editor + preview), swapped in place. No inline scripts (CSP).
//
// While a field is held (from the press on it to its release) nothing may redraw the
// editor or read it half-way: an answer swapped in then would pull the field out from
// under the pointer, and a save sent then would read the list with SortableJS's floating
// copy of the field in it (the field twice: a 400) or with the field where the pointer
// happens to be. So, while a field is held:
// - a save that goes out (one queued by hx-sync before the press) sends the layout as it
//   was at the press, a state the editor really showed;
// - an answer is kept, not swapped in. At the release, when the drop changed the layout,
//   the drop's own save brings the server's view of everything and the kept answer is
//   dropped; when it changed nothing and no other save is under way, the kept answer is
//   swapped in then. No answer is lost, no request is cancelled.
(function () {
  "use strict";

  var EDITOR = "form[data-layout-editor]";

  // SortableJS's floating copy of a dragged field (class sortable-fallback) sits in the
  // list it came from until the drop: it is never part of the layout.
  function keysOf(list) {
    if (!list) return [];
    var items = list.querySelectorAll(":scope > [data-field]:not(.sortable-fallback)");
    return Array.prototype.map.call(items, function (li) {
      return li.getAttribute("data-field");
    });
  }

  function sectionsOf(form) {
    return Array.prototype.slice.call(form.querySelectorAll("[data-sections] > [data-section]"));
  }

  // The section title in other languages (its "Translations" control); empty ones are none.
  function titlesOf(section) {
    var titles = {};
    section.querySelectorAll("[data-section-title-locale]").forEach(function (input) {
      if (input.value.trim()) titles[input.getAttribute("data-section-title-locale")] = input.value;
    });
    return titles;
  }

  function serialise(form) {
    if (form.getAttribute("data-layout-editor") === "quick") {
      return { fields: keysOf(form.querySelector("[data-quick-included]")) };
    }
    return {
      sections: sectionsOf(form).map(function (section) {
        var select = section.querySelector("[data-section-columns]");
        return {
          key: section.getAttribute("data-section-key") || "",
          title: section.querySelector("[data-section-title]").value,
          titles: titlesOf(section),
          columns: parseInt(select.value, 10) || 1,
          fields: Array.prototype.map.call(section.querySelectorAll("[data-column]"), keysOf),
        };
      }),
    };
  }

  function sync(form) {
    var input = form.querySelector("[data-layout-input]");
    if (!input) return;
    // A field is held: what the editor showed when it was pressed (see the top).
    input.value = form._leHeld ? form._leHeld.layout : JSON.stringify(serialise(form));
  }

  // A change since the request in flight was sent means its answer is already stale.
  function changed(form) {
    form._leGeneration = (form._leGeneration || 0) + 1;
    sync(form);
    if (window.htmx) window.htmx.trigger(form, "layout-changed");
  }

  // -- structure of the form layout -----------------------------------------------------

  function shortest(section) {
    var columns = Array.prototype.slice.call(section.querySelectorAll("[data-column]"));
    return columns.reduce(function (best, column) {
      return keysOf(column).length < keysOf(best).length ? column : best;
    }, columns[0]);
  }

  function renumber(form) {
    var sections = sectionsOf(form);
    sections.forEach(function (section, i) {
      var num = section.querySelector(".le-section-num");
      if (num) num.textContent = String(i + 1);
      section.querySelector("[data-action=up]").disabled = i === 0;
      section.querySelector("[data-action=down]").disabled = i === sections.length - 1;
      section.querySelector("[data-action=remove]").disabled = sections.length <= 1;
    });
    var add = form.querySelector("[data-action=add-section]");
    if (add) add.disabled = sections.length >= 20;
  }

  // Words come from the editor's data attributes (rendered in the page's language by the
  // template); English is the fallback.
  function columnLabel(form, n) {
    var pattern = form.getAttribute("data-msg-column") || "Column {n}";
    return pattern.replace("{n}", String(n));
  }

  function setColumns(form, section, count) {
    var grid = section.querySelector("[data-grid]");
    var columns = Array.prototype.slice.call(grid.querySelectorAll("[data-column]"));
    while (columns.length < count) {
      var ul = document.createElement("ul");
      ul.className = "le-column";
      ul.setAttribute("data-column", "");
      ul.setAttribute("aria-label", columnLabel(form, columns.length + 1));
      ul.setAttribute("data-empty", form.getAttribute("data-msg-empty") || "Drop fields here");
      grid.appendChild(ul);
      makeSortable(form, ul);
      columns.push(ul);
    }
    var keep = columns[count - 1];
    columns.slice(count).forEach(function (extra) {
      Array.prototype.slice.call(extra.children).forEach(function (li) { keep.appendChild(li); });
      extra.remove();
    });
    grid.className = grid.className.replace(/\bcols-\d\b/, "").trim() + " cols-" + count;
  }

  function removeSection(form, section) {
    var sections = sectionsOf(form);
    if (sections.length <= 1) return;
    var rest = sections.filter(function (s) { return s !== section; });
    var target = rest[rest.length - 1];
    section.querySelectorAll("[data-field]").forEach(function (li) {
      shortest(target).appendChild(li);
    });
    section.remove();
    renumber(form);
    changed(form);
  }

  function addSection(form) {
    var template = form.querySelector("template[data-section-template]");
    if (!template) return;
    var section = template.content.firstElementChild.cloneNode(true);
    form.querySelector("[data-sections]").appendChild(section);
    section.querySelectorAll("[data-column]").forEach(function (list) { makeSortable(form, list); });
    renumber(form);
    var title = section.querySelector("[data-section-title]");
    title.focus();
    title.select();
    changed(form);
  }

  function moveSection(form, section, direction) {
    if (direction < 0 && section.previousElementSibling) {
      section.parentNode.insertBefore(section, section.previousElementSibling);
    } else if (direction > 0 && section.nextElementSibling) {
      section.parentNode.insertBefore(section.nextElementSibling, section);
    } else {
      return;
    }
    renumber(form);
    changed(form);
  }

  // -- quick create ---------------------------------------------------------------------

  function toggleQuick(form, li) {
    var included = form.querySelector("[data-quick-included]");
    var available = form.querySelector("[data-quick-available]");
    if (li.parentNode === included) {
      if (li.hasAttribute("data-required")) return;
      available.appendChild(li);
    } else {
      included.appendChild(li);
    }
    changed(form);
  }

  // -- SortableJS -----------------------------------------------------------------------

  function makeSortable(form, list) {
    if (!window.Sortable || list._leSortable) return;
    var quick = form.getAttribute("data-layout-editor") === "quick";
    list._leSortable = window.Sortable.create(list, {
      group: quick ? "le-quick-fields" : "le-form-fields",
      draggable: "[data-field]",
      filter: "button, input, select",
      preventOnFilter: false,
      animation: 150,
      forceFallback: true,
      fallbackTolerance: 3,
      emptyInsertThreshold: 24,
      ghostClass: "is-ghost",
      chosenClass: "is-chosen",
      dragClass: "is-dragging",
      onMove: function (evt) {
        // Required fields cannot leave quick create.
        return !(
          quick &&
          evt.dragged.hasAttribute("data-required") &&
          evt.to.hasAttribute("data-quick-available")
        );
      },
      // Pressed: nothing moved yet, so this is the layout on screen.
      onChoose: function () { hold(form); },
      // Released: after onEnd (which saves a drop that moved the field).
      onUnchoose: function () { setTimeout(function () { release(form); }, 0); },
      onStart: function () { form.classList.add("is-dragging-field"); },
      onEnd: function (evt) {
        form.classList.remove("is-dragging-field");
        if (evt.from !== evt.to || evt.oldIndex !== evt.newIndex) {
          form._leHeld = null; // the drop is on screen now: the save reads it
          changed(form);
        }
      },
    });
  }

  // -- a field held while saves come and go (see the top) --------------------------------

  function hold(form) {
    form._leHeld = { layout: JSON.stringify(serialise(form)), answer: null };
  }

  function release(form) {
    var held = form._leHeld;
    form._leHeld = null;
    sync(form);
    var answer = held && held.answer;
    if (!answer || !document.body.contains(form)) return;
    // Swapped in only when it is still the answer to what is on screen: nothing changed
    // since its request was sent and no other save is under way (its answer will come).
    var current = (form._leGeneration || 0) === answer.generation;
    if (!current || form._leInFlight || !window.htmx || !window.htmx.swap) return;
    var editor = document.getElementById("layout-editor");
    if (!editor) return;
    pendingFocus = focusState(editor);
    window.htmx.swap(editor, answer.text, {
      swapStyle: "outerHTML",
      swapDelay: 0,
      settleDelay: 20,
    });
  }

  // A release SortableJS did not report (its list was taken away mid-drag): let go too.
  ["pointerup", "pointercancel", "mouseup", "touchend"].forEach(function (type) {
    document.addEventListener(type, function () {
      setTimeout(function () {
        document.querySelectorAll(EDITOR).forEach(function (form) {
          if (form._leHeld) release(form);
        });
      }, 0);
    }, true);
  });

  function init(root) {
    var forms = root.matches && root.matches(EDITOR) ? [root] : root.querySelectorAll(EDITOR);
    Array.prototype.forEach.call(forms, function (form) {
      if (form._leReady) return;
      form._leReady = true;
      form.querySelectorAll("[data-column], [data-quick-list]").forEach(function (list) {
        makeSortable(form, list);
      });
      if (form.querySelector("[data-sections]")) renumber(form);  // enables "Add section"
      sync(form);
      form.setAttribute("data-le-ready", "");
    });
  }

  // -- events ---------------------------------------------------------------------------

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("button[data-action]");
    var form = button && button.closest(EDITOR);
    if (!form || button.disabled) return;
    var action = button.getAttribute("data-action");
    var section = button.closest("[data-section]");
    if (action === "add-section") addSection(form);
    else if (action === "remove" && section) removeSection(form, section);
    else if (action === "up" && section) moveSection(form, section, -1);
    else if (action === "down" && section) moveSection(form, section, 1);
    else if (action === "toggle") toggleQuick(form, button.closest("[data-field]"));
    else return;
    evt.preventDefault();
  });

  document.addEventListener("change", function (evt) {
    var form = evt.target.closest && evt.target.closest(EDITOR);
    if (!form) return;
    if (evt.target.matches("[data-section-columns]")) {
      var count = parseInt(evt.target.value, 10) || 1;
      setColumns(form, evt.target.closest("[data-section]"), count);
      changed(form);
    } else if (evt.target.matches("[data-section-title], [data-section-title-locale]")) {
      changed(form);
    }
  });

  // Enter in a title or the Save button: make sure what is sent is what is shown.
  document.addEventListener("submit", function (evt) {
    if (evt.target.matches && evt.target.matches(EDITOR)) sync(evt.target);
  }, true);

  document.addEventListener("htmx:configRequest", function (evt) {
    var form = evt.detail.elt;
    if (!form.matches || !form.matches(EDITOR)) return;
    sync(form);
    evt.detail.parameters.layout = form.querySelector("[data-layout-input]").value;
    form._leSent = form._leGeneration || 0;
  });

  // Whether a save of the form is under way (hx-sync lets one at a time).
  document.addEventListener("htmx:beforeSend", function (evt) {
    var form = evt.detail.elt;
    if (form && form.matches && form.matches(EDITOR)) form._leInFlight = true;
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt;
    if (form && form.matches && form.matches(EDITOR)) form._leInFlight = false;
  });

  // Which control had the focus (and what it held) so it survives the swap.
  function focusState(editor) {
    var el = document.activeElement;
    if (!el || !editor.contains(el)) return null;
    var section = el.closest("[data-section]");
    var state = { role: null, index: -1, key: "", value: null, start: null, end: null };
    if (section) {
      state.index = sectionsOf(section.closest(EDITOR)).indexOf(section);
      state.key = section.getAttribute("data-section-key") || "";
    }
    if (el.matches("[data-section-title]")) {
      state.role = "[data-section-title]";
      if (el.value !== el.defaultValue) state.value = el.value;
      state.start = el.selectionStart;
      state.end = el.selectionEnd;
    } else if (el.matches("[data-section-columns]")) {
      state.role = "[data-section-columns]";
    } else if (el.matches("button[data-action]") && section) {
      state.role = "button[data-action=" + el.getAttribute("data-action") + "]";
    } else if (el.matches("[data-action=add-section]")) {
      state.role = "global:[data-action=add-section]";
    }
    return state.role ? state : null;
  }

  function restoreFocus(editor, state) {
    if (!state) return;
    var el = null;
    if (state.role.indexOf("global:") === 0) {
      el = editor.querySelector(state.role.slice(7));
    } else {
      var form = editor.querySelector(EDITOR);
      var sections = form ? sectionsOf(form) : [];
      var section = null;
      if (state.key) {
        section = sections.filter(function (s) {
          return s.getAttribute("data-section-key") === state.key;
        })[0];
      }
      section = section || sections[state.index];
      el = section && section.querySelector(state.role);
    }
    if (!el) return;
    if (el.disabled) {
      el = el.closest("[data-section]") && el.closest("[data-section]").querySelector("[data-section-title]");
      if (!el) return;
    }
    if (state.value !== null && "value" in el) el.value = state.value;
    el.focus();
    if (state.start !== null && el.setSelectionRange) {
      try { el.setSelectionRange(state.start, state.end); } catch (e) { /* not a text input */ }
    }
  }

  var pendingFocus = null;

  document.addEventListener("htmx:beforeSwap", function (evt) {
    // Dispatched on the target (#layout-editor); the form that asked is in the config.
    var form = (evt.detail.requestConfig && evt.detail.requestConfig.elt) || evt.detail.elt;
    if (!form || !form.matches || !form.matches(EDITOR)) return;
    if (form._leHeld && document.body.contains(form)) {
      // A field is held: keep the answer for the release (see the top).
      form._leHeld.answer = {
        text: evt.detail.serverResponse,
        generation: form._leSent || 0,
      };
      evt.detail.shouldSwap = false;
      evt.detail.isError = false;
      return;
    }
    var stale = (form._leGeneration || 0) !== (form._leSent || 0);
    if (stale && document.body.contains(form)) {
      // A newer change is queued (hx-sync "queue last"): keep what is on screen; the next
      // answer brings the server's view of it.
      evt.detail.shouldSwap = false;
      evt.detail.isError = false;
      return;
    }
    if (evt.detail.xhr.status >= 400) {
      // Problems come back as the editor block (or a notice the server retargets).
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
    var editor = document.getElementById("layout-editor");
    pendingFocus = editor ? focusState(editor) : null;
  });

  document.addEventListener("htmx:afterSwap", function () {
    var editor = document.getElementById("layout-editor");
    if (!editor) return;
    init(editor);
    restoreFocus(editor, pendingFocus);
    pendingFocus = null;
  });

  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
