// The record page's "Copy citation" button. Progressive enhancement: the citation is plain
// text on the page; this only shows the button when there is a clipboard to copy it to.
// A file, never inline script: pages allow script from the portal's own files only.
(function () {
  var button = document.querySelector("[data-copy]");
  if (!button || !navigator.clipboard) return;
  var text = document.getElementById(button.getAttribute("data-copy"));
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(text.textContent.trim()).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy citation"; }, 2000);
    }, function () { button.textContent = "Select the text to copy it"; });
  });
})();
