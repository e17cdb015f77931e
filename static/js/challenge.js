// The proof-of-work check on sign-up, password reset and (after failed logins) sign-in.
// The server signs a puzzle (shop/accounts/challenge.py): find n in [0, max_number] such that
// hex(SHA-256(salt + n)) equals `challenge`. We solve it as soon as the page loads and put the
// answer into the hidden input as ALTCHA's payload: base64 of JSON {algorithm, challenge,
// number, salt, signature}. No worker, no injected styles: nothing our CSP would refuse.
(function () {
  "use strict";

  var BATCH = 2000; // digests in flight at once: crypto.subtle is asynchronous

  function fromHex(hex) {
    var bytes = new Uint8Array(hex.length / 2);
    for (var i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return bytes;
  }

  function sameBytes(buffer, expected) {
    var bytes = new Uint8Array(buffer);
    if (bytes.length !== expected.length) {
      return false;
    }
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] !== expected[i]) {
        return false;
      }
    }
    return true;
  }

  async function findNumber(puzzle) {
    var encoder = new TextEncoder();
    var target = fromHex(String(puzzle.challenge));
    var max = Number(puzzle.max_number);
    for (var start = 0; start <= max; start += BATCH) {
      var tries = [];
      for (var n = start; n < start + BATCH && n <= max; n++) {
        tries.push(crypto.subtle.digest("SHA-256", encoder.encode(puzzle.salt + n)));
      }
      var digests = await Promise.all(tries);
      for (var i = 0; i < digests.length; i++) {
        if (sameBytes(digests[i], target)) {
          return start + i;
        }
      }
    }
    return null;
  }

  function setUp(container) {
    var form = container.closest("form");
    var input = container.querySelector("[data-challenge-solution]");
    var status = container.querySelector("[data-challenge-status]");
    var state = { done: false, failed: false, sendWhenDone: false };

    function fail(message) {
      state.failed = true;
      status.textContent = message;
      container.classList.add("challenge-failed");
    }

    if (form) {
      // Sent before the check finished: hold the form and send it as soon as it is done.
      form.addEventListener("submit", function (event) {
        if (state.done || state.failed) {
          return;
        }
        event.preventDefault();
        state.sendWhenDone = true;
        status.textContent = "Checking your browser… the form is sent as soon as this is done.";
      });
    }

    if (!window.crypto || !window.crypto.subtle || !window.TextEncoder) {
      fail("This browser cannot run the automatic check here. Please use a current browser over https.");
      return;
    }

    var puzzle;
    try {
      puzzle = JSON.parse(container.getAttribute("data-challenge"));
    } catch (error) {
      fail("The automatic check could not start. Please reload the page.");
      return;
    }

    findNumber(puzzle).then(
      function (number) {
        if (number === null) {
          fail("The automatic check could not finish. Please reload the page.");
          return;
        }
        input.value = btoa(
          JSON.stringify({
            algorithm: puzzle.algorithm,
            challenge: puzzle.challenge,
            number: number,
            salt: puzzle.salt,
            signature: puzzle.signature,
          })
        );
        state.done = true;
        status.textContent = "Checking your browser… done";
        container.classList.add("challenge-done");
        if (state.sendWhenDone && form) {
          if (form.requestSubmit) {
            form.requestSubmit();
          } else {
            form.submit();
          }
        }
      },
      function () {
        fail("The automatic check could not finish. Please reload the page.");
      }
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-challenge]").forEach(setUp);
  });
})();
