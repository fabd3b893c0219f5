/**
 * Internal: reads `queue_directory` from a Postfix main.cf, as postconf and
 * postkick read it.
 *
 * What is supported (checked against `postconf -c DIR -xh queue_directory`):
 * - `name = value` lines; the name and the value lose the whitespace around
 *   them; a later line for the same name wins.
 * - A line that starts with whitespace continues the previous logical line
 *   (joined with one space); blank lines and lines whose first non-blank
 *   character is `#` are skipped, even between a line and its continuation;
 *   a continuation with no line before it is ignored, as postconf does.
 * - `$name`, `${name}` and `$(name)` expand to another parameter, recursively;
 *   `$$` is a `$`. A name is letters, digits and `_`.
 * - `${name?value}` is value when name is set to a non-empty text, else
 *   empty; `${name:value}` is value when name is unset or empty, else empty.
 *   The value may be wrapped in `{...}`, and is itself expanded.
 * - A name that main.cf does not set expands to the empty string, as postconf
 *   expands a name it does not know. Postfix's built-in defaults of OTHER
 *   parameters (`$data_directory`, `$mail_owner`, ...) are not known here.
 *   `queue_directory` itself defaults to `/var/spool/postfix`.
 * - A parameter that refers to itself (directly or through others) is a
 *   SyntaxError, as is a `$` followed by no name, an unclosed `${` or `$(`,
 *   and a line with no `=` or no name. Parameters that queue_directory does
 *   not reach are not expanded, so their errors do not matter (as in postconf).
 *
 * @module
 */

/** Postfix's default `queue_directory`. */
export const DEFAULT_QUEUE_DIRECTORY = "/var/spool/postfix";

/** Postfix's default configuration directory. */
export const DEFAULT_CONFIG_DIRECTORY = "/etc/postfix";

/** The deepest chain of references followed (Postfix's own limit is 100). */
const MAX_DEPTH = 100;

/**
 * The parameters a main.cf sets, unexpanded, the last setting of each name
 * winning.
 *
 * @param text The file's text.
 * @param file The file's path, for error messages.
 * @throws {SyntaxError} for a line with no `=` or no name.
 */
export function parseMainCf(text: string, file: string): Map<string, string> {
  const params = new Map<string, string>();
  // Logical lines: [first physical line number, text].
  const logical: [number, string][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (/^\s/.test(line)) {
      // A continuation with nothing to continue is dropped, as postconf drops it.
      if (logical.length > 0) {
        const last = logical[logical.length - 1];
        last[1] = last[1] === "" ? trimmed : `${last[1]} ${trimmed}`;
      }
      continue;
    }
    logical.push([i + 1, trimmed]);
  }
  for (const [number, line] of logical) {
    const equals = line.indexOf("=");
    const name = (equals < 0 ? line : line.slice(0, equals)).trim();
    if (equals < 0 || /\s/.test(name)) {
      throw new SyntaxError(`Cannot read "${file}": line ${number}: missing "=" after parameter name`);
    }
    if (name === "") throw new SyntaxError(`Cannot read "${file}": line ${number}: missing parameter name`);
    params.set(name, line.slice(equals + 1).trim());
  }
  return params;
}

/**
 * The value of parameter `name` with every `$` reference expanded.
 *
 * @param params What {@linkcode parseMainCf} returned.
 * @param name The parameter.
 * @param file The file's path, for error messages.
 * @returns The expanded value, or undefined when main.cf does not set `name`.
 * @throws {SyntaxError} for a reference loop or a malformed reference.
 */
export function expandParameter(params: Map<string, string>, name: string, file: string): string | undefined {
  const value = params.get(name);
  if (value === undefined) return undefined;
  return expand(value, params, file, [name]);
}

const NAME = /^[A-Za-z0-9_]+/;

function expand(text: string, params: Map<string, string>, file: string, stack: string[]): string {
  const fail = (why: string) => new SyntaxError(`Cannot read "${file}": parameter ${stack[0]}: ${why} in "${text}"`);
  let out = "";
  let at = 0;
  while (at < text.length) {
    const dollar = text.indexOf("$", at);
    if (dollar < 0) {
      out += text.slice(at);
      break;
    }
    out += text.slice(at, dollar);
    const next = text.charAt(dollar + 1);
    if (next === "$") {
      out += "$";
      at = dollar + 2;
      continue;
    }
    if (next === "{" || next === "(") {
      const close = matching(text, dollar + 1);
      if (close < 0) throw fail("unclosed reference");
      out += reference(text.slice(dollar + 2, close), params, file, stack, fail);
      at = close + 1;
      continue;
    }
    const name = NAME.exec(text.slice(dollar + 1))?.[0];
    if (name === undefined) throw fail('"$" with no parameter name');
    out += lookup(name, params, file, stack, fail);
    at = dollar + 1 + name.length;
  }
  return out;
}

/** The index of the bracket that closes the one at `open`, counting nested pairs of the same kind; -1 if none. */
function matching(text: string, open: number): number {
  const [left, right] = text.charAt(open) === "{" ? ["{", "}"] : ["(", ")"];
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text.charAt(i) === left) depth++;
    else if (text.charAt(i) === right && --depth === 0) return i;
  }
  return -1;
}

/** The inside of `${...}` or `$(...)`: a name, optionally followed by `?value` or `:value`. */
function reference(
  inside: string,
  params: Map<string, string>,
  file: string,
  stack: string[],
  fail: (why: string) => SyntaxError,
): string {
  const body = inside.trim();
  const name = NAME.exec(body)?.[0];
  if (name === undefined) throw fail(`bad parameter name "${body}"`);
  const rest = body.slice(name.length).trimStart();
  if (rest === "") return lookup(name, params, file, stack, fail);
  const operator = rest.charAt(0);
  if (operator !== "?" && operator !== ":") throw fail(`unexpected "${rest}" after parameter name ${name}`);
  let value = rest.slice(1).trim();
  if (value.startsWith("{")) {
    const close = matching(value, 0);
    if (close !== value.length - 1) throw fail(`text after "{...}" in "${value}"`);
    value = value.slice(1, -1);
  }
  // Set means set to a non-empty text, before expansion (as Postfix tests it).
  const set = (params.get(name) ?? "") !== "";
  return set === (operator === "?") ? expand(value, params, file, stack) : "";
}

function lookup(
  name: string,
  params: Map<string, string>,
  file: string,
  stack: string[],
  fail: (why: string) => SyntaxError,
): string {
  const value = params.get(name);
  // A name main.cf does not set expands to nothing, as postconf expands a name it does not know.
  if (value === undefined) return "";
  if (stack.includes(name)) throw fail(`parameter ${name} refers to itself (${[...stack, name].join(" -> ")})`);
  if (stack.length >= MAX_DEPTH) throw fail(`references nested deeper than ${MAX_DEPTH}`);
  return expand(value, params, file, [...stack, name]);
}

/**
 * The queue directory that a main.cf's text names, or Postfix's default.
 *
 * @param text The file's text.
 * @param file The file's path, for error messages.
 * @throws {SyntaxError} as {@linkcode parseMainCf} and {@linkcode expandParameter} do.
 */
export function queueDirectoryOf(text: string, file: string): string {
  return expandParameter(parseMainCf(text, file), "queue_directory", file) ?? DEFAULT_QUEUE_DIRECTORY;
}
