// The search page: sort, page size and the on-demand toggle apply at once; without script
// the form's Apply button does. A file, never inline script: pages allow script from the
// portal's own files only.
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
  form.classList.add("js-autosubmit");
  form.querySelectorAll("select, input[type=checkbox]").forEach(function (control) {
    control.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
  });
});
