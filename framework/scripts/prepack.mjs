// `npm pack` / `npm publish` of the framework: copy the repository's templates/ into the
// package (framework/templates, gitignored), where the installed `berth new` finds them.
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bundleTemplates } from "../dist/cli/templates.js";

const from = fileURLToPath(new URL("../../templates", import.meta.url));
const into = fileURLToPath(new URL("../templates", import.meta.url));
rmSync(into, { recursive: true, force: true });
const names = bundleTemplates(from, into);
console.log(`prepack: templates ${names.join(", ")} copied into framework/templates`);
