// Small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Checkout: show only the fieldset of the chosen fulfilment (both show without JavaScript).
  function syncFulfillment() {
    var chosen = document.querySelector('[data-fulfillment-choice] input[type="radio"]:checked');
    document.querySelectorAll("[data-fulfillment]").forEach(function (fieldset) {
      fieldset.hidden = !chosen || fieldset.getAttribute("data-fulfillment") !== chosen.value;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var choice = document.querySelector("[data-fulfillment-choice]");
    if (choice) {
      choice.addEventListener("change", syncFulfillment);
      syncFulfillment();
    }
    // Move focus to an error summary so screen-reader and keyboard users hear what went wrong.
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  });
})();
