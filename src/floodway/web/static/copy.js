// Copy buttons: <button data-copy="element-id"> copies that element's text (console-ux.md §3.7).
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!btn) { return; }
    var source = document.getElementById(btn.dataset.copy);
    if (!source || !navigator.clipboard) { return; }
    var label = btn.textContent;
    navigator.clipboard.writeText(source.textContent).then(function () {
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = label; }, 1500);
    }, function () {
      btn.textContent = "Select and copy by hand";
    });
  });
})();
