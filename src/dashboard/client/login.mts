/** The login form: POSTs the password as JSON and opens the dashboard on success. */
import { ApiError, postJson } from "./api.mjs";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`login page has no #${id}`);
  }
  return found as T;
}

const form = element<HTMLFormElement>("login-form");
const password = element<HTMLInputElement>("password");
const error = element<HTMLParagraphElement>("login-error");

form.addEventListener("submit", (event) => {
  event.preventDefault();
  error.textContent = "";
  postJson("login", { password: password.value }, false)
    .then(() => {
      window.location.href = "./";
    })
    .catch((reason: unknown) => {
      error.textContent =
        reason instanceof ApiError ? reason.message : "Login failed.";
      password.select();
    });
});
