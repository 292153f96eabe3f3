// Sign in, register, profile.

import { anonymous, api, session } from "../api.js";
import { alertBox, dl, field, fmtDate, h, link, notify } from "../ui.js";

export function signin(view, _params, app) {
  const errors = h("div");
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const identifier = String(data.get("identifier")).trim();
    const body = identifier.includes("@")
      ? { email: identifier, password: data.get("password") }
      : { username: identifier, password: data.get("password") };
    button.disabled = true;
    try {
      session.save(await anonymous("/api/auth/login", body), data.get("remember") === "on");
      app.signedIn();
      const next = app.afterSignIn || "/upload";
      app.afterSignIn = null;
      app.go(next);
    } catch (err) {
      errors.replaceChildren(alertBox(err));
    } finally {
      button.disabled = false;
    }
  } });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  form.append(
    h("h1", {}, "Sign in"), errors,
    field("Username or email", h("input", { name: "identifier", required: true, autocomplete: "username" })),
    field("Password", h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "remember" }), " Keep me signed in on this device"),
    button,
    h("p", {}, "No account yet? ", link("/register", "Register")));
  view.replaceChildren(form);
  form.querySelector("input").focus();
}

export function register(view, _params, app) {
  const errors = h("div");
  const button = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (!data.name) delete data.name;
    button.disabled = true;
    try {
      await anonymous("/api/auth/register", data);
      session.save(await anonymous("/api/auth/login", { username: data.username, password: data.password }), false);
      app.signedIn();
      notify("Welcome to Veriscan.");
      app.go("/upload");
    } catch (err) {
      errors.replaceChildren(alertBox(err));
    } finally {
      button.disabled = false;
    }
  } },
  h("h1", {}, "Register"), errors,
  field("Username", h("input", { name: "username", required: true, autocomplete: "username" })),
  field("Email", h("input", { name: "email", type: "email", required: true, autocomplete: "email" })),
  field("Display name (optional)", h("input", { name: "name", autocomplete: "name" })),
  field("Password", h("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" })),
  button,
  h("p", {}, "Already registered? ", link("/signin", "Sign in")));
  view.replaceChildren(form);
}

export async function profile(view, _params, app) {
  const { user } = await api("/api/auth/profile");
  session.setUser(user);
  const errors = h("div");
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const body = {};
    for (const key of ["username", "email", "name"]) if (data[key] && data[key] !== user[key]) body[key] = data[key];
    if (data.new_password) {
      body.new_password = data.new_password;
      body.current_password = data.current_password;
    }
    if (!Object.keys(body).length) { errors.replaceChildren(alertBox("Nothing to change.", "info")); return; }
    try {
      const result = await api("/api/auth/profile", { method: "PUT", body });
      session.setUser(result.user);
      app.renderNav();
      notify("Profile updated.");
      app.go("/profile");
    } catch (err) {
      errors.replaceChildren(alertBox(err));
    }
  } },
  h("h2", {}, "Edit profile"), errors,
  field("Username", h("input", { name: "username", value: user.username, autocomplete: "username" })),
  field("Email", h("input", { name: "email", type: "email", value: user.email, autocomplete: "email" })),
  field("Display name", h("input", { name: "name", value: user.name })),
  field("Current password", h("input", { name: "current_password", type: "password", autocomplete: "current-password" }), "Needed only to change the password."),
  field("New password", h("input", { name: "new_password", type: "password", minlength: 8, autocomplete: "new-password" })),
  h("button", { type: "submit", class: "primary" }, "Save"));
  view.replaceChildren(
    h("h1", {}, "Profile"),
    h("section", { class: "card narrow" }, dl([
      ["Username", user.username], ["Email", user.email], ["Name", user.name],
      ["Role", user.role], ["Member since", fmtDate(user.created_at)],
    ]), h("button", { type: "button", onclick: () => app.signOut() }, "Sign out")),
    form);
}
