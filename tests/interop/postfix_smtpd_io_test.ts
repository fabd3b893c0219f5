/**
 * Timed I/O against the REAL Postfix smtpd: a private instance (DESIGN.md
 * sections 6 and 8) gets an smtpd service on a free loopback port, and we
 * talk SMTP to it with `inetConnect`, `timedRead` and `writeBuf`. smtpd
 * sends its `220` banner and then waits, silent, for the client: a short
 * `timedRead` times out there, and the session carries on (EHLO, the `250`
 * lines, QUIT, `221`) with nothing lost.
 */
import assert from "node:assert/strict";
import { inetConnect, timedRead, writeBuf } from "../../mod.ts";
import { delay, freePort, within } from "../_util.ts";
import { type PostfixInstance, skipUnlessPostfix, startPostfix } from "./_postfix.ts";

const ignore = skipUnlessPostfix();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where a Postfix command is: on PATH or in /usr/sbin, as the harness looks for it. */
function sbin(name: string): string {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir), "/usr/sbin"];
  for (const dir of dirs) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new Error(`${name} is not installed`);
}

/** Runs a Postfix command on the instance; throws with its output unless it exits 0. */
async function postfixCommand(command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(sbin(command), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).output();
  if (out.code !== 0) {
    throw new Error(`${command} ${args.join(" ")}: exit ${out.code}: ${decoder.decode(out.stderr)}`);
  }
}

/**
 * Adds an smtpd on `127.0.0.1:port` to the instance's master.cf (unchrooted,
 * as the rest of it) and has the master pick it up; resolves once it accepts.
 */
async function addSmtpd(postfix: PostfixInstance, port: number): Promise<void> {
  const service = `127.0.0.1:${port}`;
  await postfixCommand("postconf", ["-c", postfix.configDir, "-M", `${service}/inet=${service} inet n - n - - smtpd`]);
  await postfixCommand("postfix", ["-c", postfix.configDir, "reload"]);
  await postfix.waitForLog(/postfix\/master\[\d+\]: reload/, 10_000);
  // The master binds the port while it reloads: wait (bounded) until a connect succeeds.
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused) || i >= 100) throw error;
      await delay(50);
    }
  }
}

/** An SMTP reply read with timedRead: lines until the last one (`NNN ` rather than `NNN-`), all within `signal`. */
class Replies {
  #conn: Deno.Conn;
  #text = "";
  #buffer = new Uint8Array(4096);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Whatever was read and not yet taken as a reply. */
  get pending(): string {
    return this.#text;
  }

  /** One read, bounded by `options`: what it gave is kept for {@linkcode next}. */
  async readOnce(options: { timeout?: number; signal?: AbortSignal }): Promise<number | null> {
    const n = await timedRead(this.#conn, this.#buffer, options);
    if (n !== null) this.#text += decoder.decode(this.#buffer.subarray(0, n));
    return n;
  }

  /** The next whole reply, as its lines (at most 100 reads). */
  async next(signal: AbortSignal): Promise<string[]> {
    for (let i = 0; i < 100; i++) {
      const lines = this.#text.split("\r\n");
      const last = lines.slice(0, -1).findIndex((line) => /^\d{3} /.test(line) || /^\d{3}$/.test(line));
      if (last >= 0) {
        this.#text = lines.slice(last + 1).join("\r\n");
        return lines.slice(0, last + 1);
      }
      if (await this.readOnce({ signal }) === null) throw new Error(`end-of-file inside a reply: ${this.#text}`);
    }
    throw new Error(`no whole reply after 100 reads: ${this.#text}`);
  }
}

Deno.test({
  name: "timedRead() and writeBuf() hold an SMTP session with the real smtpd, across a timed-out read",
  ignore,
  async fn() {
    await using postfix = await startPostfix({ transport: "unix" });
    const port = freePort();
    await addSmtpd(postfix, port);

    // One deadline for the whole session, passed to every call.
    const signal = AbortSignal.timeout(30_000);
    using conn = await inetConnect(`127.0.0.1:${port}`, { signal });
    const replies = new Replies(conn);

    const banner = await replies.next(signal);
    assert.equal(banner.length, 1, banner.join("\n"));
    assert.match(banner[0], /^220 \S+ ESMTP/);

    // smtpd now waits for the client: a short read times out, and the connection stays usable.
    const started = performance.now();
    await within(
      assert.rejects(replies.readOnce({ timeout: 200, signal }), (error) => {
        assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
        return true;
      }),
      5_000,
      "the short timedRead",
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 195 && elapsed < 1_200, `the 200 ms read settled after ${elapsed} ms`);
    assert.equal(replies.pending, "");

    // EHLO with writeBuf; the read that timed out is still in flight and gets the start of the reply.
    await writeBuf(conn, encoder.encode("EHLO client.postnet.invalid\r\n"), { signal });
    const ehlo = await replies.next(signal);
    assert.ok(ehlo.length >= 2, ehlo.join("\n"));
    assert.match(ehlo[0], /^250-\S+$/);
    for (const line of ehlo.slice(1, -1)) assert.match(line, /^250-/);
    assert.match(ehlo.at(-1)!, /^250 /);
    assert.ok(ehlo.some((line) => /^250[- ]PIPELINING$/.test(line)), ehlo.join("\n"));

    await writeBuf(conn, encoder.encode("QUIT\r\n"), { signal });
    const quit = await replies.next(signal);
    assert.equal(quit.length, 1, quit.join("\n"));
    assert.match(quit[0], /^221 /);
    // smtpd closes after 221: end-of-file, and nothing else was sent.
    assert.equal(await replies.readOnce({ signal }), null);
    assert.equal(replies.pending, "");
    await postfix.waitForLog(/postfix\/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] ehlo=1 quit=1/, 5_000);
  },
});
