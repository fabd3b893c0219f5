/**
 * Shared by the permission fixtures: runs named steps, prints one JSON line
 * per step on stdout, and sets the exit code (0 when every step succeeded,
 * 1 otherwise). A fixture never ends the process itself: it exits once every
 * resource is closed, so a leak shows as a fixture that does not exit.
 *
 * @module
 */

/** One step's outcome, as printed. */
export interface StepReport {
  step: string;
  ok: boolean;
  /** What the step returned, when it succeeded. */
  value?: unknown;
  /** The error's name (`"NotCapable"`), when it failed. */
  error?: string;
  /** Whether the error is an instance of `Deno.errors.NotCapable`. */
  notCapable?: boolean;
  /** The error's message, when it failed. */
  message?: string;
}

let failed = false;

/** Runs `fn` and prints its outcome; never throws. */
export async function step(name: string, fn: () => unknown): Promise<boolean> {
  let report: StepReport;
  try {
    report = { step: name, ok: true, value: await fn() };
  } catch (error) {
    failed = true;
    report = {
      step: name,
      ok: false,
      error: error instanceof Error || error instanceof DOMException ? error.name : typeof error,
      notCapable: error instanceof Deno.errors.NotCapable,
      message: error instanceof Error || error instanceof DOMException ? error.message : String(error),
    };
  }
  console.log(JSON.stringify(report));
  return report.ok;
}

/** Sets the exit code from the steps run so far. */
export function finish(): void {
  Deno.exitCode = failed ? 1 : 0;
}

const decoder = new TextDecoder();

/** Reads a connection to its end and returns the text. */
export async function readAll(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buffer = new Uint8Array(1024);
  // Bounded by the peer, which writes a few bytes and closes.
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text + decoder.decode();
}
