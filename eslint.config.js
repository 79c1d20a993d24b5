// ESLint over Ranker's browser code (`npm run lint`; scripts/test runs it): the dashboard's
// modules, the sources of beacon.js and widget.js, and the tools that build them.
import js from "@eslint/js";
import globals from "globals";

// What the dashboard and the widget promise: untrusted text reaches the page through
// textContent and setAttribute only, and no string is ever run as code.
const noHtmlFromStrings = [
  "error",
  ...["innerHTML", "outerHTML", "insertAdjacentHTML", "createContextualFragment"].map((property) => ({
    property,
    message: "Build the DOM with el()/textContent: strings from the server are untrusted.",
  })),
  { object: "document", property: "write", message: "Build the DOM with el()/textContent." },
];

export default [
  {
    // The committed builds (npm run build) and everything not ours.
    ignores: [
      "ranker/static/beacon.js",
      "ranker/static/widget.js",
      ".venv/",
      "node_modules/",
      "build/",
      "artifacts/",
      "var/",
      ".hypothesis/",
      ".mypy_cache/",
      ".pytest_cache/",
      ".ruff_cache/",
    ],
  },
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ["error", "smart"],
      "no-var": "error",
      "prefer-const": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-restricted-properties": noHtmlFromStrings,
    },
  },
  {
    // Served as they are to the editors' browsers, as modules: ES2020 at most.
    files: ["ranker/static/dashboard/**/*.js"],
    languageOptions: { ecmaVersion: 2020, sourceType: "module", globals: globals.browser },
  },
  {
    // Bundled by esbuild down to ES2017 for the publishers' readers.
    files: ["ranker/static/src/**/*.js"],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
  {
    // The WordPress block's editor script: a plain script on WordPress' wp.* globals.
    files: ["integrations/wordpress/**/*.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, wp: "readonly" } },
  },
  {
    files: ["scripts/**/*.mjs", "eslint.config.js"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
