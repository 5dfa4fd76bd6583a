/** `latchkey schema`: the JSON Schema (2020-12) of a project file, for editors and CI. */
import { BUILTIN_PLUGINS } from "../../plugins/index.ts";
import { projectFileJsonSchemaText } from "../config/json-schema.ts";
import { EXIT_OK } from "./exit-codes.ts";

export function runSchema(): number {
  process.stdout.write(projectFileJsonSchemaText(BUILTIN_PLUGINS));
  return EXIT_OK;
}
