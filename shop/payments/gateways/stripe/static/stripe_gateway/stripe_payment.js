// Stripe's card element on the payment page (templates/payments/stripe_fields.html).
// Stripe.js (loaded before this file) shows the card fields in Stripe's own iframe. On submit we
// ask it for a PaymentMethod and send the form with only its id (pm_...) in the hidden token
// input: no card number, expiry or CVC ever reaches the shop. 3-D Secure is handled by the server
// (the PaymentIntent's redirect to the bank's page), not here.
(function () {
  "use strict";

  function start() {
    var container = document.querySelector("[data-stripe-card]");
    if (!container) {
      return;
    }
    var errors = container.querySelector("[data-stripe-card-errors]");
    var form = container.closest("form");
    var token = form && form.querySelector('input[name="' + container.dataset.tokenField + '"]');
    if (typeof Stripe !== "function" || !token) {
      errors.textContent = "The card fields could not be loaded. Reload the page, or try again later.";
      return;
    }

    var stripe = Stripe(container.dataset.publishableKey);
    var card = stripe.elements().create("card");
    card.mount(container.querySelector("[data-stripe-card-element]"));
    card.on("change", function (event) {
      errors.textContent = event.error ? event.error.message : "";
    });

    var sending = false;
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented || token.value) {
        // The proof-of-work check holds the form and sends it again when done; or the card is
        // tokenized already: let the form go.
        return;
      }
      event.preventDefault();
      if (sending) {
        return; // a double click: the first one is still talking to Stripe
      }
      sending = true;
      stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
        sending = false;
        if (result.error) {
          errors.textContent = result.error.message;
          return;
        }
        token.value = result.paymentMethod.id;
        // requestSubmit runs the form's own checks and submit handlers again; this one now lets it go.
        if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          form.submit();
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
