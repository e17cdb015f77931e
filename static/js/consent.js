// The consent banner without a page reload. Without this file the banner's forms post normally.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var banner = document.querySelector("[data-consent-banner]");
    var form = banner && banner.querySelector("[data-consent-form]");
    if (!form) {
      return;
    }
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !window.fetch || !window.FormData) {
        return;
      }
      event.preventDefault();
      var data = new FormData(form);
      data.set(button.name, button.value);
      fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-Requested-With": "consent.js" },
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("not saved");
          }
          banner.hidden = true;
        })
        .catch(function () {
          form.submit();
        });
    });
  });
})();
