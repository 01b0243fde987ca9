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

// A search typed before the scripts ran (a slow connection, a busy machine) is not lost:
// htmx only hears the input events that come after it has set up the form, and its
// "changed" modifier takes the value it finds then as already seen. A live-search form
// (data-live-search) whose inputs differ from what the page was served with asks once
// now ("live-search" is in its hx-trigger).
(function () {
  "use strict";
  function edited(el) {
    if (el.disabled || el.type === "hidden" || el.type === "submit" || el.type === "button") return false;
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      var served = -1;
      Array.prototype.forEach.call(el.options, function (o, i) {
        if (served < 0 && o.defaultSelected) served = i;
      });
      return el.selectedIndex !== (served < 0 ? 0 : served);
    }
    return "defaultValue" in el && el.value !== el.defaultValue;
  }
  // htmx (loaded first, deferred) has processed the page in its own DOMContentLoaded.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    document.querySelectorAll("form[data-live-search]").forEach(function (form) {
      if (Array.prototype.some.call(form.elements, edited)) window.htmx.trigger(form, "live-search");
    });
  });
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
      box.dispatchEvent(new CustomEvent("lookup-set", { bubbles: true }));
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

// Bulk actions on a list: the count of ticked rows, "select all on this page", and the bar
// stays quiet until something is ticked. Rows are replaced by htmx (search, show more,
// after a bulk action): the count follows.
(function () {
  "use strict";
  function picks() {
    return document.querySelectorAll('input[name="pick"][form="bulk-form"]');
  }
  // "3 selected" in the page's language: the template puts the sentence for one record
  // and for several on the element (data-msg-one / data-msg-other, "{n}" where the number
  // goes; the languages served choose between them as English does, or have one form).
  // Without them (an older page), only the number changes.
  function showCount(el, n) {
    if (!el) return;
    var message = n === 1 ? el.dataset.msgOne : el.dataset.msgOther;
    var parts = message && message.indexOf("{n}") >= 0 ? message.split("{n}") : null;
    if (!parts) {
      var count = el.querySelector("[data-bulk-count]");
      if (count) count.textContent = String(n);
      return;
    }
    var strong = document.createElement("strong");
    strong.setAttribute("data-bulk-count", "");
    strong.textContent = String(n);
    el.textContent = "";
    parts.forEach(function (part, i) {
      if (i > 0) el.appendChild(strong.cloneNode(true));
      if (part) el.appendChild(document.createTextNode(part));
    });
  }
  function refresh() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var all = picks();
    var n = 0;
    all.forEach(function (box) { if (box.checked) n += 1; });
    showCount(form.querySelector(".bulk-count"), n);
    form.classList.toggle("is-idle", n === 0);
    var head = document.querySelector(".pick-all");
    if (head) {
      head.checked = all.length > 0 && n === all.length;
      head.indeterminate = n > 0 && n < all.length;
    }
  }
  document.addEventListener("change", function (evt) {
    var t = evt.target;
    if (!t || !t.matches) return;
    if (t.matches(".pick-all")) {
      picks().forEach(function (box) { box.checked = t.checked; });
      refresh();
    } else if (t.matches('input[name="pick"]')) {
      refresh();
    }
  });
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
})();

// The quick-create dialog: htmx loads a form into it, this opens it; "+ New Account" next
// to a lookup remembers which lookup gets the new record; closing empties it.
(function () {
  "use strict";
  function dialog() { return document.getElementById("quick-dialog"); }

  document.addEventListener("click", function (evt) {
    var opener = evt.target.closest && evt.target.closest("[hx-target='#quick-dialog-body']");
    var d = dialog();
    if (opener && d) d.dataset.lookup = opener.dataset.quickFor || "";
    var closer = evt.target.closest && evt.target.closest("[data-dialog-close]");
    if (closer && d && d.open) d.close();
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    var d = dialog();
    if (d && evt.detail.target && evt.detail.target.id === "quick-dialog-body" && !d.open) {
      d.showModal();
      var first = d.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    }
  });
  document.addEventListener("close", function (evt) {
    if (evt.target && evt.target.id === "quick-dialog") {
      var body = document.getElementById("quick-dialog-body");
      if (body) body.innerHTML = "";
      // Focus goes back to the button that opened the dialog (the browser does that);
      // focusing the lookup instead would pop its list of options open.
      evt.target.dataset.lookup = "";
    }
  }, true);
  // The server saved the record: put it in the lookup that asked for it.
  document.addEventListener("quick-created", function (evt) {
    var d = dialog();
    if (!d) return;
    var lookup = d.dataset.lookup;
    var text = lookup && document.getElementById(lookup);
    if (text && evt.detail) {
      var box = text.closest("[data-lookup]");
      box.querySelector("[data-lookup-value]").value = String(evt.detail.id);
      text.value = evt.detail.label;
      box.dispatchEvent(new CustomEvent("lookup-set", { bubbles: true }));
    }
    // After htmx has swapped the answer in (the notice goes to the page's messages).
    setTimeout(function () { if (d.open) d.close(); }, 0);
  });
})();

// Inline edit on the record page: Escape puts the value back.
document.addEventListener("keydown", function (evt) {
  if (evt.key !== "Escape" || !evt.target.closest) return;
  var form = evt.target.closest("[data-inline-form]");
  if (!form) return;
  var lookupList = form.querySelector(".lookup-options");
  if (lookupList && lookupList.innerHTML.trim()) { lookupList.innerHTML = ""; return; }
  var cancel = form.querySelector("[data-inline-cancel]");
  if (cancel) { evt.preventDefault(); cancel.click(); }
});

// Inline edit by keyboard: when a value comes back in place of its form (saved, cancelled,
// Escape) and the focus went with the form, it goes to that value's Edit link, so the next
// Tab or Enter carries on from there instead of from the top of the page.
document.addEventListener("htmx:afterSettle", function (evt) {
  var now = evt.target;
  if (!now || !now.matches || !now.matches("div.inline-value[id^='fv-']")) return;
  var lost = !document.activeElement || document.activeElement === document.body;
  var link = now.querySelector(".inline-edit");
  if (lost && link) link.focus();
});

// A form field checked on blur: mark it as wrong or right with the server's answer.
document.addEventListener("htmx:afterSwap", function (evt) {
  var target = evt.detail.target;
  if (!target || !target.classList || !target.classList.contains("field-msg")) return;
  var wrong = !!target.querySelector(".errors");
  var field = target.closest(".field");
  if (!field) return;
  field.classList.toggle("has-error", wrong);
  field.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (el) {
    if (wrong) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
  });
});

// A popover panel (such as "Save view") puts the cursor in its first input when opened.
document.addEventListener("toggle", function (evt) {
  var el = evt.target;
  if (el && el.matches && el.matches("details.popover") && el.open) {
    var first = el.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  }
}, true);

// List filters ("Add filter", crm/records/views_filters.py): the builder opens under the
// chips; "+ Add filter" again, Cancel or Escape closes it. A lookup filter for several
// records ("is one of") collects each record picked as a ticked box.
(function () {
  "use strict";
  function panel() { return document.getElementById("filter-panel"); }
  function adder() { return document.querySelector(".filter-add"); }
  function close(focusAdder) {
    var p = panel();
    if (!p || !p.firstElementChild) return;
    p.innerHTML = "";
    var a = adder();
    if (a) {
      a.setAttribute("aria-expanded", "false");
      if (focusAdder) a.focus();
    }
  }
  // "+ Add filter" while the builder is open closes it instead of loading it again.
  document.addEventListener("htmx:confirm", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (!elt || !elt.classList || !elt.classList.contains("filter-add")) return;
    var p = panel();
    if (p && p.firstElementChild) {
      evt.preventDefault();
      close(true);
    }
  });
  // The chips (with "+ Add filter") come back out of band with every answer of the list,
  // the builder does not: the button tells again whether it is open.
  function syncAdder() {
    var a = adder();
    var p = panel();
    if (a) a.setAttribute("aria-expanded", p && p.firstElementChild ? "true" : "false");
  }
  document.addEventListener("htmx:oobAfterSwap", syncAdder);
  // The builder was made while the list may have moved on (a search typed, a chip removed
  // while it was open): what it applies keeps the list as it is now, not as it was then.
  function listState() {
    var tools = document.querySelector("form.list-tools");
    if (!tools) return null;
    var pairs = [];
    new FormData(tools).forEach(function (value, name) {
      if (name === "q" || name === "view" || name === "sort" || name.indexOf("f.") === 0) {
        pairs.push([name, value]);
      }
    });
    return pairs;
  }
  document.addEventListener("htmx:configRequest", function (evt) {
    var elt = evt.detail.elt;
    if (!elt || elt.id !== "filter-builder") return;
    var pairs = listState();
    var data = evt.detail.formData;
    if (!pairs || !data) return;
    var names = [];
    data.forEach(function (value, name) {
      if (name === "q" || name === "view" || name === "sort" || name.indexOf("f.") === 0) names.push(name);
    });
    names.forEach(function (name) { data.delete(name); });
    pairs.forEach(function (pair) { data.append(pair[0], pair[1]); });
  });
  // Applied: the list follows (HX-Location), the builder closes.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    var xhr = evt.detail.xhr;
    if (elt && elt.id === "filter-builder" && xhr && xhr.getResponseHeader("HX-Location")) close(false);
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.detail.target;
    if (target && target.id === "filter-panel") {
      syncAdder();
      var field = document.getElementById("filter-field");
      if (field) field.focus();
      return;
    }
    // The builder came back with a problem: the cursor goes back to the value.
    var form = document.getElementById("filter-builder");
    var lost = !document.activeElement || document.activeElement === document.body;
    if (form && lost && form.querySelector(".errors")) {
      var input = form.querySelector("#filter-value, .filter-value input, #filter-field");
      if (input) input.focus();
    }
  });
  document.addEventListener("click", function (evt) {
    var cancel = evt.target.closest && evt.target.closest("[data-filter-cancel]");
    if (cancel && cancel.closest("#filter-panel")) {
      evt.preventDefault();
      close(true);
    }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || !evt.target.closest) return;
    var inPanel = evt.target.closest("#filter-panel") || evt.target === document.body;
    if (!inPanel || !panel() || !panel().firstElementChild) return;
    var options = evt.target.closest(".lookup") && evt.target.closest(".lookup").querySelector(".lookup-options");
    if (options && options.innerHTML.trim()) { options.innerHTML = ""; return; }
    evt.preventDefault();
    close(true);
  });
  // Several records: each one picked becomes a ticked box named "value"; the search box
  // empties for the next one.
  document.addEventListener("lookup-set", function (evt) {
    var box = evt.target;
    if (!box.matches || !box.matches("[data-filter-lookup-many]")) return;
    var id = box.querySelector("[data-lookup-value]").value;
    var text = box.querySelector("[data-lookup-text]");
    var picked = box.parentNode.querySelector("[data-filter-picked]");
    if (!id || !picked) return;
    var present = false;
    picked.querySelectorAll("input[name='value']").forEach(function (input) {
      if (input.value === id) { input.checked = true; present = true; }
    });
    if (!present) {
      var label = document.createElement("label");
      label.className = "filter-pick";
      var input = document.createElement("input");
      input.type = "checkbox";
      input.name = "value";
      input.value = id;
      input.checked = true;
      var name = document.createElement("span");
      name.className = "filter-person";
      name.textContent = text.value;
      label.appendChild(input);
      label.appendChild(name);
      picked.appendChild(label);
    }
    box.querySelector("[data-lookup-value]").value = "";
    text.value = "";
  });
})();

// Dialogs that htmx fills (``<dialog data-htmx-dialog>`` with a ``.dialog-body``, e.g. a
// stage gate's form on a record page): opened when their body receives content, emptied
// when closed; ``[data-dialog-close]`` inside closes them (a link there is the way back
// without JavaScript).
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (evt) {
    var body = evt.detail.target;
    var d = body && body.closest && body.closest("dialog[data-htmx-dialog]");
    if (d && !d.open && body.children.length) {
      d.showModal();
      var first = d.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    }
  });
  document.addEventListener("click", function (evt) {
    var closer = evt.target.closest && evt.target.closest("dialog[data-htmx-dialog] [data-dialog-close]");
    if (closer) {
      evt.preventDefault();
      closer.closest("dialog").close();
    }
  });
  document.addEventListener("close", function (evt) {
    if (evt.target && evt.target.matches && evt.target.matches("dialog[data-htmx-dialog]")) {
      var body = evt.target.querySelector(".dialog-body");
      if (body) body.innerHTML = "";
    }
  }, true);
})();
