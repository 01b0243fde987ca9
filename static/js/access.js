// Access screens: colour a scope select as its level changes; copy the invitation link.
// Loaded by templates/access/_frame.html. No inline scripts (the CSP forbids them), and no
// words of its own: the template puts them on the element (data-msg-*).
(function () {
  "use strict";
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el && el.classList && el.classList.contains("lv")) el.dataset.level = el.value;
  });
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.dataset.copy);
    if (!input) return;
    input.select();
    // The words come from the page (data-msg-copied, in the reader's language); English
    // is only the fallback.
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    var done = function () {
      button.textContent = button.dataset.msgCopied || "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else {
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });
})();
