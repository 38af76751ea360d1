// Parses an AsyncAPI document with @asyncapi/parser (schema validation and its spectral
// ruleset); prints every diagnostic and exits 1 on any error or warning.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
const { document, diagnostics } = await new Parser().parse(await readFile(path, "utf8"), { source: path });
const serious = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
for (const d of diagnostics) {
  const where = d.path.join("/");
  console.log(`${DiagnosticSeverity[d.severity]} ${d.code} ${where}: ${d.message}`);
}
if (!document || serious.length > 0) {
  console.log(`${path}: ${serious.length} error(s) or warning(s)`);
  process.exit(1);
}
const operations = document.operations().length;
const channels = document.channels().length;
console.log(`${path}: valid AsyncAPI ${document.version()}, ${channels} channels, ${operations} operations`);
