// Reading fabric.yaml and Pulumi.<site>.yaml: a YAML error names the file, the line and column, and the key
// it sits under where YAML's tree knows it; duplicate keys are errors (a parser that keeps the last one
// loses a value silently); an empty file says it is empty.
import assert from "node:assert/strict";
import { formatProblems, parseYamlText, type Problem } from "../../fabric";

function problems(text: string, file = "fabric.yaml", kind: "fabric" | "stack" = "fabric"): Problem[] {
  const r = parseYamlText(text, file, kind);
  assert.equal(r.ok, false, "expected the YAML to be refused");
  return r.ok ? [] : r.problems;
}

describe("config files: YAML errors", () => {
  it("reads a valid file (positive control)", () => {
    assert.deepEqual(parseYamlText("asn: 65000\nzone: { id: crossite }\n", "fabric.yaml"), {
      ok: true,
      value: { asn: 65000, zone: { id: "crossite" } },
    });
  });

  it("names a duplicate key in fabric.yaml: file, line, column, key path and the first occurrence", () => {
    const text = "asn: 65000\nsites:\n  roz:\n    nodes:\n      - name: pve1\n        name: pve2\n";
    assert.deepEqual(problems(text), [
      {
        path: "sites.roz.nodes[0].name",
        file: "fabric.yaml",
        line: 6,
        column: 9,
        value: undefined,
        rule: "key 'name' appears twice in one mapping (first at line 5); YAML refuses duplicate keys, and one of the two values would be lost",
        fix: "keep one of the two (merge their contents if both hold settings)",
      },
    ]);
  });

  it("names a duplicate top-level config key in Pulumi.<site>.yaml", () => {
    const text = "config:\n  pve-fabric:api:\n    endpoint: https://a:8006\n  pve-fabric:api: {}\n";
    const [p] = problems(text, "Pulumi.roz.yaml", "stack");
    assert.deepEqual([p.path, p.file, p.line, p.column], ["config.pve-fabric:api", "Pulumi.roz.yaml", 4, 3]);
    assert.match(p.rule, /^key 'pve-fabric:api' appears twice in one mapping \(first at line 2\)/);
  });

  it("names a syntax error with its line, column and the key it sits under, and prints them", () => {
    const text = "config:\n  pve-fabric:api:\n    tokenId: root@pam!x\n    tls: [a\n  pve-fabric:nodes: {}\n";
    const list = problems(text, "Pulumi.roz.yaml", "stack");
    assert.deepEqual(
      list.map((p) => [p.path, p.line, p.column, p.rule]),
      [
        [
          "config.pve-fabric:api.tls[0]",
          5,
          3,
          "is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
        ],
      ],
    );
    assert.equal(
      formatProblems(list).split("\n")[1],
      "  1. config.pve-fabric:api.tls[0]   (Pulumi.roz.yaml, line 5, column 3)",
    );
  });

  it("reports every error of the file, not only the first", () => {
    const text = "a: 1\na: 2\nb:\n\tc: 3\n";
    assert.deepEqual(
      problems(text).map((p) => [p.line, p.rule.split(";")[0]]),
      [
        [2, "key 'a' appears twice in one mapping (first at line 1)"],
        [4, "is not valid YAML: Tabs are not allowed as indentation"],
      ],
    );
  });

  it("says an empty file (or one of comments only) is empty, with a fix per file", () => {
    for (const text of ["", "# nothing yet\n\n"]) {
      assert.deepEqual(problems(text), [
        {
          path: "fabric.yaml",
          file: "fabric.yaml",
          value: undefined,
          rule: "the file is empty",
          fix: "write the fabric definition into it (fabric/README.md has a complete example)",
        },
      ]);
    }
    const [p] = problems("", "Pulumi.wro.yaml", "stack");
    assert.equal(p.rule, "the file is empty");
    assert.match(p.fix, /pve-fabric:api and pve-fabric:nodes/);
    assert.equal(formatProblems([p]).split("\n")[1], "  1. Pulumi.wro.yaml");
  });

  it("refuses a top level that is a list, and an alias without its anchor", () => {
    const [list] = problems("- asn: 1\n");
    assert.equal(list.rule, "must be a mapping of keys at the top level, not a list");
    assert.deepEqual([list.line, list.column], [1, 1]);
    const [alias] = problems("asn: *nope\n");
    assert.match(alias.rule, /^is not valid YAML: Unresolved alias .*: nope$/);
  });
});
