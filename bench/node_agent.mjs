// Node.js side of bench/compare.ts: the same trigger work done with Node's
// `net` and `fs`, driven over stdin/stdout with one JSON object per line.
// Plain JavaScript, no dependencies: run as `node --expose-gc bench/node_agent.mjs`.
//
// Requests: {id, op, ...}; answers: {id, ok: true, ...} or {id, ok: false, error}.
//   serve {transport, path?, ack?}    -> {key, port?, path?}   a Node trigger server; with
//                                      ack (FIFO), one byte written there per byte read
//   stats {key, reset?}               -> {triggers, bytes}
//   waitBytes {key, bytes, timeout}   -> {span}                ms from first to last arrival
//   closeServer {key}                 -> {}
//   run {transport, target, n, concurrency} -> {elapsed, failures, firstError?}
//   rss {}                            -> {rss}
//   exit {}                           -> closes everything and exits
import fs from "node:fs";
import net from "node:net";
import readline from "node:readline";
import { execFileSync } from "node:child_process";

const WIRE = Buffer.from([0x57, 0]);
const FIFO_WIRE = Buffer.from([0x57]);
const servers = new Map();
let nextKey = 0;

/** Counts what a server received and wakes whoever waits for a byte count. */
function counter() {
  return {
    triggers: 0,
    bytes: 0,
    firstAt: undefined,
    lastAt: undefined,
    waiters: [],
    arrive(triggers, bytes) {
      const now = performance.now();
      this.firstAt ??= now;
      this.lastAt = now;
      this.triggers += triggers;
      this.bytes += bytes;
      this.waiters = this.waiters.filter((w) => !w(this));
    },
    reset() {
      this.triggers = this.bytes = 0;
      this.firstAt = this.lastAt = undefined;
    },
  };
}

/** A Node trigger server: read until the NUL (or EOF, or 1024 bytes), destroy, count. */
function streamServer(transport, path) {
  const count = counter();
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let length = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      count.arrive(1, length);
    };
    socket.on("data", (chunk) => {
      length += chunk.length;
      if (chunk[chunk.length - 1] === 0 || length >= 1024) finish();
    });
    socket.on("end", finish);
    socket.on("error", finish);
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const listening = () => {
      resolve({
        count,
        address: transport === "inet" ? { port: server.address().port } : { path },
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    };
    if (transport === "inet") server.listen({ host: "127.0.0.1", port: 0, backlog: 511 }, listening);
    else server.listen({ path, backlog: 511 }, listening);
  });
}

/**
 * A Node FIFO server: the FIFO opened O_RDWR|O_NONBLOCK and read by libuv as
 * a pipe. With `ack` (a FIFO path), one byte is written there per byte read.
 */
function fifoServer(path, ack) {
  execFileSync("mkfifo", ["-m", "622", "--", path]);
  const count = counter();
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  let ackFd;
  socket.on("data", (chunk) => {
    count.arrive(chunk.length, chunk.length);
    if (ack === undefined) return;
    // The client holds the ack FIFO open for reading.
    ackFd ??= fs.openSync(ack, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(ackFd, Buffer.alloc(chunk.length));
  });
  return {
    count,
    address: { path },
    close: () =>
      new Promise((done) => {
        socket.once("close", () => {
          if (ackFd !== undefined) fs.closeSync(ackFd);
          done();
        });
        socket.destroy();
      }),
  };
}

/** A Node stream trigger: connect, write request + NUL, wait for the server's close. */
function streamTrigger(options) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options);
    let written = false;
    socket.on("connect", () => {
      socket.write(WIRE);
      written = true;
    });
    socket.on("data", () => {});
    socket.on("end", () => socket.destroy());
    socket.on("error", (error) => {
      // Delivered: the server read the request and reset instead of closing.
      if (written && (error.code === "ECONNRESET" || error.code === "EPIPE")) return;
      reject(error);
    });
    socket.on("close", () => resolve());
  });
}

/** A Node FIFO trigger: open O_WRONLY|O_NONBLOCK, write, close. */
function fifoTrigger(path) {
  const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  try {
    fs.writeSync(fd, FIFO_WIRE);
  } finally {
    fs.closeSync(fd);
  }
}

async function run({ transport, target, n, concurrency }) {
  const one = transport === "fifo"
    ? () => fifoTrigger(target.path)
    : transport === "inet"
    ? () => streamTrigger({ host: "127.0.0.1", port: target.port })
    : () => streamTrigger({ path: target.path });
  let started = 0;
  let failures = 0;
  let firstError;
  async function loop() {
    while (started < n) {
      started++;
      try {
        await one();
      } catch (error) {
        failures++;
        firstError ??= String(error);
      }
    }
  }
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { elapsed: performance.now() - start, failures, firstError };
}

async function handle(request) {
  switch (request.op) {
    case "serve": {
      const server = request.transport === "fifo"
        ? fifoServer(request.path, request.ack)
        : await streamServer(request.transport, request.path);
      const key = `node-${request.transport}-${nextKey++}`;
      servers.set(key, server);
      return { key, ...server.address };
    }
    case "stats": {
      const { count } = servers.get(request.key);
      const stats = { triggers: count.triggers, bytes: count.bytes };
      if (request.reset) count.reset();
      return stats;
    }
    case "waitBytes": {
      const { count } = servers.get(request.key);
      const reached = (c) => c.bytes >= request.bytes;
      if (!reached(count)) {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`waitBytes: ${count.bytes}/${request.bytes}`)),
            request.timeout,
          );
          count.waiters.push((c) => reached(c) && (clearTimeout(timer), resolve(), true));
        });
      }
      return { span: count.lastAt - count.firstAt };
    }
    case "closeServer": {
      await servers.get(request.key).close();
      servers.delete(request.key);
      return {};
    }
    case "run":
      return await run(request);
    case "rss":
      globalThis.gc?.();
      return { rss: process.memoryUsage().rss };
    case "exit":
      for (const server of servers.values()) await server.close();
      servers.clear();
      return {};
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const request = JSON.parse(line);
  let answer;
  try {
    answer = { id: request.id, ok: true, ...(await handle(request)) };
  } catch (error) {
    answer = { id: request.id, ok: false, error: String(error?.stack ?? error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (request.op === "exit") {
    lines.close();
    process.exit(0);
  }
});
// The controller went away: stop.
lines.on("close", async () => {
  for (const server of servers.values()) await server.close();
  process.exit(0);
});
