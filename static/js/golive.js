// The go-live checklist: a chosen file's name replaces "Choose file" on its button.
document.addEventListener("change", function (e) {
  var input = e.target.closest(".golive-file input");
  if (!input) return;
  var label = input.closest(".golive-file").querySelector("span");
  if (!label.dataset.empty) label.dataset.empty = label.textContent;
  label.textContent = input.files.length ? input.files[0].name : label.dataset.empty;
});
