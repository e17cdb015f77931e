// The payment page: the card fields live in the gateway's iframe. Pressing Pay asks the iframe
// (by postMessage, to the gateway's origin only) to tokenize the card; the token comes back by
// postMessage, accepted only from that iframe and that origin, goes into the hidden `token`
// field, and the form is sent. The form never holds a card number.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-payment-form]");
    var frame = form && form.querySelector("iframe[data-card-frame]");
    if (!frame) {
      return;
    }
    var tokenInput = form.querySelector('input[name="token"]');
    var status = form.querySelector("[data-payment-status]");
    var gatewayOrigin = new URL(frame.src, window.location.href).origin;

    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }

    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) {
        return; // the proof-of-work check holds the form and sends it again when it is done
      }
      var saved = form.querySelector('input[name="saved_card"]:checked');
      if (tokenInput.value || (saved && saved.value)) {
        say("Paying…"); // a saved card: the server uses its stored gateway token
        return;
      }
      event.preventDefault();
      say("Checking your card…");
      frame.contentWindow.postMessage({ type: "sandbox:tokenize" }, gatewayOrigin);
    });

    window.addEventListener("message", function (event) {
      if (event.origin !== gatewayOrigin || event.source !== frame.contentWindow) {
        return;
      }
      var data = event.data || {};
      if (data.type === "sandbox:token" && typeof data.token === "string" && /^tok_[\w-]+$/.test(data.token)) {
        tokenInput.value = data.token;
        if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          form.submit();
        }
      } else if (data.type === "sandbox:resize" && Number(data.height) > 0) {
        // The fields grow when they show errors: the frame follows (within reason).
        frame.style.height = Math.min(Math.ceil(Number(data.height)) + 4, 800) + "px";
      } else if (data.type === "sandbox:error") {
        say(String(data.message || "Check the card details."));
      }
    });
  });
})();
