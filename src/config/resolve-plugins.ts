/**
 * Resolves a plugin choice (`auth.hasher`, `mail.provider`) against the static registry and
 * validates its options with the plugin's own schema, so errors name e.g. `auth.hasher.options.memory_cost`.
 */
import * as v from "valibot";
import type { PluginRegistry } from "../../plugins/index.ts";
import type { GenericSchema } from "valibot";
import { toPathIssues, VALIBOT_CONFIG } from "./issues.ts";
import type { PathIssue } from "./issues.ts";
import { printable } from "./names.ts";
import { didYouMean } from "./suggest.ts";
import type { PluginChoice } from "./types.ts";

export interface PluginRequest {
  readonly kind: "hasher" | "mail";
  readonly id: string;
  /** As written in the file; absent or null means "no options" (the plugin's defaults). */
  readonly options: unknown;
  /** Key path of the id (`auth.hasher.algorithm`, `mail.provider`). */
  readonly idPath: string;
  /** Key path of the options (`auth.hasher.options`, `mail.options`). */
  readonly optionsPath: string;
}

/** Looks the plugin up and validates its options; returns the choice or the issues. */
export function resolvePluginChoice(request: PluginRequest, registry: PluginRegistry): { choice?: PluginChoice; issues: PathIssue[] } {
  const factories: Readonly<Record<string, { readonly optionsSchema: GenericSchema }>> =
    request.kind === "hasher" ? registry.hashers : registry.mailProviders;
  const known = Object.keys(factories);
  if (!Object.hasOwn(factories, request.id)) {
    const what = request.kind === "hasher" ? "hasher algorithm" : "mail provider";
    return {
      issues: [{
        path: request.idPath,
        message: `unknown ${what} "${printable(request.id)}"${didYouMean(request.id, known)} (known: ${known.join(", ") || "none registered"})`,
      }],
    };
  }
  const options = request.options ?? {};
  const result = v.safeParse(factories[request.id].optionsSchema, options, VALIBOT_CONFIG);
  if (!result.success) return { issues: toPathIssues(result.issues, request.optionsPath) };
  return { choice: { id: request.id, options: result.output }, issues: [] };
}
