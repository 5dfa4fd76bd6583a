/** "Did you mean ...?" for typos in keys and ids (`auth_tabel` -> `auth_table`). */

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_: unknown, j: number): number => j);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = previous[j];
      previous[j] = Math.min(previous[j] + 1, previous[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length];
}

/** The closest candidate within a small edit distance, or null. */
export function suggestClosest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  // Roughly one edit per three characters; never a suggestion that shares nothing with the word.
  let bestDistance = Math.min(Math.max(1, Math.floor(word.length / 3)), word.length - 1) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)`, or "" when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = suggestClosest(word, candidates);
  return match === null ? "" : ` (did you mean "${match}"?)`;
}
