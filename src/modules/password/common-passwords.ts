import listText from "./common-passwords.txt" with { type: "text" };

let list: Set<string> | null = null;

/** True when the lowercased password is on the bundled list (see the header of common-passwords.txt). */
export function isCommonPassword(password: string): boolean {
  list ??= new Set(
    listText
      .split("\n")
      .map((l) => l.replace(/\r$/, ""))
      .filter((l) => l !== "" && l !== "#" && !l.startsWith("# ")),
  );
  return list.has(password.toLowerCase());
}
