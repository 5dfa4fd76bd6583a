/**
 * The few libc calls Node's fs does not offer (Bun has no flock and no setrlimit), through
 * bun:ffi. Loaded lazily; on a system where libc cannot be opened every function reports
 * `unavailable` and the caller decides what that means (it works in the compiled binary too).
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const LOCK_EX = 2;
const LOCK_NB = 4;
const RLIMIT_NOFILE = process.platform === "darwin" ? 8 : 7;
const LIBC_NAMES = process.platform === "darwin" ? ["libc.dylib", "/usr/lib/libSystem.B.dylib"] : ["libc.so.6", "libc.so"];

const SYMBOLS = {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
} as const;

type Libc = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const name of LIBC_NAMES) {
    try {
      libc = dlopen(name, SYMBOLS).symbols;
      break;
    } catch {
      // try the next name
    }
  }
  return libc;
}

/**
 * `flock(fd, LOCK_EX | LOCK_NB)`: "locked" when this process now holds the lock, "busy" when
 * another process does. The kernel drops the lock when the process dies (kill -9 included).
 */
export function tryLockExclusive(fd: number): "locked" | "busy" | "unavailable" {
  const c = load();
  if (c === null) return "unavailable";
  return c.flock(fd, LOCK_EX | LOCK_NB) === 0 ? "locked" : "busy";
}

export interface FileLimit {
  readonly soft: number;
  readonly hard: number;
}

const INFINITY_AS_NUMBER = Number.MAX_SAFE_INTEGER;

function toNumber(v: bigint): number {
  return v > BigInt(INFINITY_AS_NUMBER) ? INFINITY_AS_NUMBER : Number(v);
}

/** The process's open-file limit (RLIMIT_NOFILE), or null when libc is not reachable. */
export function getFileLimit(): FileLimit | null {
  const c = load();
  if (c === null) return null;
  const buf = new BigUint64Array(2);
  if (c.getrlimit(RLIMIT_NOFILE, ptr(buf)) !== 0) return null;
  return { soft: toNumber(buf[0]), hard: toNumber(buf[1]) };
}

/** Raises the soft open-file limit to the hard one; returns the limit in force afterwards. */
export function raiseFileLimit(): FileLimit | null {
  const c = load();
  if (c === null) return null;
  const buf = new BigUint64Array(2);
  if (c.getrlimit(RLIMIT_NOFILE, ptr(buf)) !== 0) return null;
  if (buf[0] < buf[1]) {
    const want = new BigUint64Array([buf[1], buf[1]]);
    // macOS refuses RLIM_INFINITY for the soft limit; then keep what we have.
    c.setrlimit(RLIMIT_NOFILE, ptr(want));
  }
  return getFileLimit();
}
