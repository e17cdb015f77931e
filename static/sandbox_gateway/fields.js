// The sandbox gateway's card fields (inside its iframe). The card number never leaves this
// page: we check it (Luhn), map the documented test card to its outcome, and send the sandbox
// only {outcome, brand, last4, exp_month, exp_year}: nothing derived from the full number (a hash
// of it would give it back by brute force). The token that comes back goes to the parent page by postMessage, to
// the parent's origin only; the parent may ask us to tokenize, and we listen to it alone.
(function () {
  "use strict";

  var TEST_CARDS = {
    "4242424242424242": "success",
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000003220": "requires_3ds",
  };

  function luhnValid(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits.charAt(digits.length - 1 - i));
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) {
          d -= 9;
        }
      }
      sum += d;
    }
    return digits.length >= 12 && sum % 10 === 0;
  }

  function brandOf(digits) {
    if (/^4/.test(digits)) {
      return "visa";
    }
    if (/^(5[1-5]|2[2-7])/.test(digits)) {
      return "mastercard";
    }
    if (/^3[47]/.test(digits)) {
      return "amex";
    }
    return "unknown";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-sandbox-fields]");
    if (!root || window.parent === window) {
      return;
    }
    var parentOrigin = root.getAttribute("data-parent-origin");
    var tokensUrl = root.getAttribute("data-tokens-url");
    var summary = document.getElementById("card-errors");
    var fields = {
      number: document.getElementById("card-number"),
      expiry: document.getElementById("card-expiry"),
      cvc: document.getElementById("card-cvc"),
    };
    var busy = false;

    function tell(message) {
      window.parent.postMessage(message, parentOrigin);
    }

    function tellHeight() {
      // The content's own height, not the document's: that never shrinks below the frame itself.
      tell({ type: "sandbox:resize", height: Math.ceil(root.getBoundingClientRect().height) + 2 });
    }

    function showErrors(errors) {
      summary.textContent = "";
      Object.keys(fields).forEach(function (key) {
        var input = fields[key];
        var box = document.getElementById(input.id + "-error");
        if (errors[key]) {
          input.setAttribute("aria-invalid", "true");
          box.textContent = errors[key];
          box.hidden = false;
        } else {
          input.removeAttribute("aria-invalid");
          box.textContent = "";
          box.hidden = true;
        }
      });
      // Each message shows at its field; the payment page announces them in its status line.
      var messages = Object.keys(errors).map(function (key) {
        return errors[key];
      });
      summary.hidden = true;
      tellHeight();
      var first = Object.keys(fields).filter(function (key) {
        return errors[key];
      })[0];
      if (first) {
        fields[first].focus();
      }
      return messages;
    }

    function read() {
      var errors = {};
      var digits = fields.number.value.replace(/[\s-]/g, "");
      var outcome = TEST_CARDS[digits];
      if (!digits) {
        errors.number = "Enter the card number.";
      } else if (!/^\d{12,19}$/.test(digits) || !luhnValid(digits)) {
        errors.number = "This card number is not valid. Check it, or use one of the sandbox test cards.";
      } else if (!outcome) {
        errors.number = "This is the sandbox: use one of the sandbox test cards, such as 4242 4242 4242 4242.";
      }
      // "12/30", "12 / 2030", or the digits alone as many people type them: "1230".
      var expiry =
        /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(fields.expiry.value) ||
        /^\s*(\d{2})(\d{2})\s*$/.exec(fields.expiry.value);
      var month = expiry ? Number(expiry[1]) : 0;
      var year = expiry ? Number(expiry[2].length === 2 ? "20" + expiry[2] : expiry[2]) : 0;
      var now = new Date();
      if (!expiry || month < 1 || month > 12) {
        errors.expiry = "Enter the expiry date as MM/YY, for example 12/34.";
      } else if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
        errors.expiry = "This expiry date is in the past.";
      }
      if (!/^\d{3,4}$/.test(fields.cvc.value.trim())) {
        errors.cvc = "Enter the 3 or 4 digit security code.";
      }
      return { errors: errors, digits: digits, outcome: outcome, month: month, year: year };
    }

    async function tokenize() {
      if (busy) {
        return;
      }
      var card = read();
      var messages = showErrors(card.errors);
      if (messages.length) {
        tell({ type: "sandbox:error", message: "Check the card details: " + messages.join(" ") });
        return;
      }
      busy = true;
      try {
        var response = await fetch(tokensUrl, {
          method: "POST",
          credentials: "omit",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            outcome: card.outcome,
            brand: brandOf(card.digits),
            last4: card.digits.slice(-4),
            exp_month: card.month,
            exp_year: card.year,
          }),
        });
        var answer = await response.json();
        if (!response.ok || typeof answer.token !== "string") {
          throw new Error(answer.error || "no token");
        }
        tell({ type: "sandbox:token", token: answer.token, brand: answer.brand, last4: answer.last4 });
      } catch (error) {
        showErrors({});
        summary.textContent = "The card could not be checked. Please try again.";
        summary.hidden = false;
        tellHeight();
        tell({ type: "sandbox:error", message: "The card could not be checked. Please try again." });
      } finally {
        busy = false;
      }
    }

    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || event.origin !== parentOrigin) {
        return;
      }
      if (event.data && event.data.type === "sandbox:tokenize") {
        tokenize();
      }
    });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        tokenize();
      }
    });
    tell({ type: "sandbox:ready" });
    tellHeight();
    // A narrower window wraps labels and fields onto more lines: the frame follows its content.
    if (window.ResizeObserver) {
      new ResizeObserver(tellHeight).observe(root);
    } else {
      window.addEventListener("resize", tellHeight);
    }
  });
})();
