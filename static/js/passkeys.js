/* Passkey ceremonies for forms marked data-passkey="create" or data-passkey="get".
 *
 * The form carries the options (with the server's one-time challenge) as JSON in
 * data-passkey-options, or names the URL that makes them (data-passkey-options-url). A button
 * marked data-passkey-button asks the browser for the passkey, puts its answer in the form's
 * hidden "passkey" field and submits the form. The server checks
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

  function options(form) {
    // Either in the page (data-passkey-options) or fetched with this form's CSRF token.
    if (form.dataset.passkeyOptions) {
      return Promise.resolve(JSON.parse(form.dataset.passkeyOptions));
    }
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(form.dataset.passkeyOptionsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("the shop did not answer (" + response.status + ")"); }
      return response.json();
    });
  }

  function run(form, button) {
    var status = form.querySelector("[data-passkey-status]");
    var field = form.querySelector("input[name=passkey]");
    var api = window.SimpleWebAuthnBrowser;
    if (!window.PublicKeyCredential || !api || !field) {
      show(status, "This browser cannot use passkeys. Use another way to sign in.");
      return;
    }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    options(form).then(function (optionsJSON) {
      return form.dataset.passkey === "create"
        ? api.startRegistration({ optionsJSON: optionsJSON })
        : api.startAuthentication({ optionsJSON: optionsJSON });
    }).then(function (answer) {
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
