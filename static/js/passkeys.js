/* Passkey ceremonies for forms marked data-passkey="create" or data-passkey="get".
 *
 * The page carries the options (with the server's one-time challenge) in a JSON data block,
 * id "passkey-options". A button marked data-passkey-button asks the browser for the passkey,
 * puts its answer in the form's hidden "passkey" field and submits the form. The server checks
 * everything; this script only carries the answer. Uses the vendored @simplewebauthn/browser.
 */
(function () {
  "use strict";

  function show(status, text) {
    if (!status) { return; }
    status.textContent = text;
    status.hidden = false;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Try again when you are ready.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already holds a passkey for your account.";
    }
    return "Your passkey could not be used" + (error && error.message ? ": " + error.message : ".");
  }

  function run(form, button) {
    var status = form.querySelector("[data-passkey-status]");
    var field = form.querySelector("input[name=passkey]");
    var data = document.getElementById("passkey-options");
    var api = window.SimpleWebAuthnBrowser;
    if (!window.PublicKeyCredential || !api || !data || !field) {
      show(status, "This browser cannot use passkeys. Use another way to sign in.");
      return;
    }
    var optionsJSON = JSON.parse(data.textContent);
    var ceremony = form.dataset.passkey === "create"
      ? api.startRegistration({ optionsJSON: optionsJSON })
      : api.startAuthentication({ optionsJSON: optionsJSON });
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    ceremony.then(function (answer) {
      field.value = JSON.stringify(answer);
      form.submit();
    }).catch(function (error) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      show(status, explain(error));
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-passkey-button]");
    if (!button || !button.form || !button.form.dataset.passkey) { return; }
    event.preventDefault();
    // Fields the server needs beside the passkey (its name, the password at step-up) first.
    if (!button.form.reportValidity()) { return; }
    run(button.form, button);
  });
}());
