// Reading the two config files: YAML text to a plain mapping, or problems that name the file, the line and
// column, and the key the error sits under when YAML's syntax tree knows it. Every syntax error of the file is
// reported, duplicate keys included (YAML forbids them; a parser that keeps the last one loses a value
// silently). Pure: text in, used by check-config and by the program for fabric.yaml.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { joinPath, type Problem } from "./problems";

/** Which file it is decides what an empty file's fix says. */
export type ConfigFileKind = "fabric" | "stack";

const EMPTY_FIX: Record<ConfigFileKind, string> = {
  fabric: "write the fabric definition into it (fabric/README.md has a complete example)",
  stack:
    "add the site's settings (`config:` with pve-fabric:api and pve-fabric:nodes; fabric/README.md), e.g. with `pulumi config set --path ...`",
};

/** YAML text to a plain value; syntax errors, an empty file and a non-mapping become problems. */
export function parseYamlText(
  text: string,
  file: string,
  kind: ConfigFileKind = "fabric",
  options: { allowEmpty?: boolean } = {},
): { ok: true; value: Record<string, unknown> } | { ok: false; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const key = keyPathAt(doc.contents, e.pos[0]);
        const where = { ...at(e.pos[0]), path: key.length ? joinPath("", key) : file };
        if (e.code === "DUPLICATE_KEY") {
          const first = firstKeyLine(doc.contents, key, e.pos[0], lines);
          return {
            ...where,
            value: undefined,
            rule:
              `key '${key.at(-1) ?? "?"}' appears twice in one mapping${first ? ` (first at line ${first})` : ""}; ` +
              "YAML refuses duplicate keys, and one of the two values would be lost",
            fix: "keep one of the two (merge their contents if both hold settings)",
          };
        }
        return {
          ...where,
          value: undefined,
          rule: `is not valid YAML: ${e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "")}`,
          fix: "fix the syntax there (indent with spaces, close brackets and quotes, one key per line)",
        };
      }),
    };
  }
  const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
  if (empty && options.allowEmpty) return { ok: true, value: {} };
  if (empty) {
    return {
      ok: false,
      problems: [{ path: file, file, value: undefined, rule: "the file is empty", fix: EMPTY_FIX[kind] }],
    };
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (e) {
    // An alias to an anchor that does not exist is found only here.
    return {
      ok: false,
      problems: [
        {
          path: file,
          file,
          value: undefined,
          rule: `is not valid YAML: ${(e as Error).message}`,
          fix: "define the anchor (&name) before the alias (*name) that uses it",
        },
      ],
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      problems: [
        {
          path: file,
          ...at(doc.contents?.range?.[0] ?? 0),
          value: undefined,
          rule: `must be a mapping of keys at the top level, not ${Array.isArray(value) ? "a list" : "a single value"}`,
          fix: EMPTY_FIX[kind],
        },
      ],
    };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** The keys (and list indices) leading to the node at `offset`, outermost first. */
function keyPathAt(node: unknown, offset: number): (string | number)[] {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as Node | null;
      const v = pair.value as Node | null;
      const start = k?.range?.[0];
      const end = v?.range?.[2] ?? k?.range?.[2];
      if (start === undefined || end === undefined || offset < start || offset > end) continue;
      const name = isScalar(k) ? String(k.value) : "?";
      // On the key itself (a duplicate) the path ends here; inside the value it goes on.
      return v && offset >= (v.range?.[0] ?? Infinity) ? [name, ...keyPathAt(v, offset)] : [name];
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const r = (item as Node | null)?.range;
      if (r && offset >= r[0] && offset <= r[2]) return [i, ...keyPathAt(item, offset)];
    }
  }
  return [];
}

/** The line of the first occurrence of a duplicated key (the one before `offset` in the same mapping). */
function firstKeyLine(
  root: unknown,
  path: (string | number)[],
  offset: number,
  lines: LineCounter,
): number | undefined {
  let node = root;
  for (const name of path.slice(0, -1)) if (isMap(node) || isSeq(node)) node = node.get(name, true);
  if (!isMap(node)) return undefined;
  const first = node.items.find(
    (p) => isScalar(p.key) && String(p.key.value) === path.at(-1) && (p.key.range?.[0] ?? offset) < offset,
  );
  const start = (first?.key as Node | undefined)?.range?.[0];
  return start === undefined ? undefined : lines.linePos(start).line;
}
