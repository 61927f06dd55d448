// Pure parts of the PVE layer: wire encoding, error classification, rule ownership and whole-order
// reconciliation, the lock-out preflight, and the fabric's rule set.
import { strict as assert } from "assert";
import { toForm, updateParams } from "../../providers/pve/encode";
import {
  classify,
  PveAlreadyExists,
  PveAuthError,
  PveDigestMismatch,
  PveLocked,
  PveNotFound,
  PveParamError,
  PveTransient,
} from "../../providers/pve/errors";
import { parseUpid } from "../../providers/pve/api/nodes/tasks";
import type { LiveRule, RuleSpec } from "../../providers/pve/api/cluster/firewall/rules";
import {
  drift,
  nextStep,
  ownerKey,
  ruleUpdate,
  simulate,
  toSpec,
  type Step,
} from "../../providers/pve/fw-plan";
import { lockoutProblems, type PreflightInput } from "../../providers/pve/preflight";
import { fabricRules } from "../../providers/pve/fabric-rules";
import { foreignPending } from "../../providers/pve/ops/apply";
import { normaliseFingerprint, tlsProblems } from "../../providers/pve/transport";

const REQ = { method: "GET", path: "/x", site: "roz" };

describe("PVE wire encoding", () => {
  it("sends booleans as 0/1, lists comma-joined, property strings percent-encoded, and drops undefined", () => {
    assert.equal(
      toForm({ a: true, b: false, l: ["pve2", "pve1"], net0: "virtio,bridge=v1", skip: undefined, n: 0 }),
      "a=1&b=0&l=pve2%2Cpve1&net0=virtio%2Cbridge%3Dv1&n=0",
    );
  });
  it("puts removed keys into one delete list and leaves equal values out", () => {
    assert.deepEqual(
      updateParams(
        { mtu: 1400, exitnodes: undefined, ipam: "pve", nodes: undefined },
        { mtu: 1370, exitnodes: "pve1", ipam: "pve", nodes: "pve1,pve2" },
        ["mtu", "exitnodes", "ipam", "nodes"],
      ),
      { mtu: 1400, delete: "exitnodes,nodes" },
    );
  });
});

describe("PVE error classification", () => {
  const cls = (status: number, text: string, errors?: Record<string, string>) =>
    classify(status, text.split("\n")[0], { message: text, errors }, REQ);
  it("maps PVE's 500 texts to types: not found, digest, transient, lock, already exists, nested param error", () => {
    assert.ok(cls(500, "sdn 'zone1' does not exist\n") instanceof PveNotFound);
    assert.ok(cls(500, "no rule at position 7\n") instanceof PveNotFound);
    assert.ok(
      cls(
        500,
        "update sdn zone object failed: detected modified configuration - file changed by other user? Try again.\n",
      ) instanceof PveDigestMismatch,
    );
    assert.ok(cls(500, "got no worker upid - start worker failed\n") instanceof PveTransient);
    assert.ok(
      cls(
        500,
        "create sdn zone object failed: invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n",
      ) instanceof PveLocked,
    );
    assert.ok(
      cls(500, "create sdn zone object failed: sdn zone object ID 'z1' already defined\n") instanceof
        PveAlreadyExists,
    );
    const p = cls(
      500,
      "create sdn vnet object failed: 400 Parameter verification failed.\ntag: vxlan tag 100 already exist in vnet v1 in zone z1\n",
    );
    assert.ok(p instanceof PveParamError);
    assert.deepEqual(p.fieldErrors, { tag: "vxlan tag 100 already exist in vnet v1 in zone z1" });
  });
  it("maps status codes: 401 auth, 400 param with field errors in the message, 595 transient, 400 'no such task' not found", () => {
    assert.ok(cls(401, "invalid token value!") instanceof PveAuthError);
    const e = cls(400, "Parameter verification failed.", {
      zone: "invalid format - zone ID 'a-b' contains illegal characters",
    });
    assert.ok(e instanceof PveParamError);
    assert.equal(
      e.message,
      "GET /x on roz answered 400: Parameter verification failed. (zone: invalid format - zone ID 'a-b' contains illegal characters)",
    );
    assert.ok(cls(595, "No route to host") instanceof PveTransient);
    assert.ok(cls(400, "no such task") instanceof PveNotFound);
  });
  it("takes the full text from the body message, not just the reason phrase's first line", () => {
    const e = classify(500, "first line", { message: "first line\nsecond line\n" }, REQ);
    assert.equal(e.detail, "first line\nsecond line");
  });
});

describe("PVE TLS settings and task ids", () => {
  it("refuses a config that pins nothing, and a fingerprint that is not 64 hex digits", () => {
    assert.match(tlsProblems({})[0], /neither fingerprint nor caPem is set/);
    assert.match(
      tlsProblems({ fingerprint: "AB:CD" })[0],
      /api.fingerprint 'AB:CD' is not a SHA-256 fingerprint/,
    );
    assert.equal(normaliseFingerprint("sha256:" + "AB:".repeat(31) + "AB"), "ab".repeat(32));
  });
  it("reads the node that runs a task from its UPID", () => {
    assert.deepEqual(parseUpid("UPID:pve2:00002711:000F4241:6B07ED86:reloadnetworkall::root@pam!fabric:"), {
      node: "pve2",
      type: "reloadnetworkall",
      id: "",
      user: "root@pam!fabric",
    });
    assert.throws(() => parseUpid("UPID:bad"), /is not a PVE task id/);
  });
});

describe("SDN apply: foreign pending changes", () => {
  it("names pending objects this stack does not own and only those", () => {
    assert.deepEqual(
      foreignPending(
        [
          { key: "zones/crossite", state: "changed" },
          { key: "zones/other", state: "new" },
          { key: "subnets/v1/z-10.0.0.0-24", state: "deleted" },
        ],
        ["zones/crossite"],
      ),
      [
        { key: "zones/other", state: "new" },
        { key: "subnets/v1/z-10.0.0.0-24", state: "deleted" },
      ],
    );
  });
});

const M = "pve-fabric";
const rule = (key: string, extra: Partial<RuleSpec> = {}): RuleSpec =>
  toSpec({ key, type: "in", action: "ACCEPT", proto: "tcp", dport: "22", enable: true, ...extra }, M);
const foreign = (comment: string): RuleSpec => ({ type: "in", action: "DROP", enable: true, comment });
const at = (xs: RuleSpec[]): LiveRule[] => xs.map((r, pos) => ({ ...r, pos }));

function converge(live: LiveRule[], desired: RuleSpec[]): { steps: Step[]; final: LiveRule[] } {
  const steps: Step[] = [];
  for (let s = nextStep(live, desired, M); s; s = nextStep(live, desired, M)) {
    steps.push(s);
    live = simulate(live, s);
    if (steps.length > 50) throw new Error("no convergence");
  }
  return { steps, final: live };
}

describe("firewall ownership and rule order", () => {
  it("owns a rule only by an exact '<marker>:<key>' comment prefix", () => {
    assert.equal(ownerKey("pve-fabric:wg-in WireGuard from peer sites", M), "wg-in");
    assert.equal(ownerKey("  pve-fabric:bgp-in ", M), "bgp-in");
    assert.equal(ownerKey("pve-fabricX:wg-in", M), undefined);
    assert.equal(ownerKey("allow ssh", M), undefined);
    assert.equal(ownerKey(undefined, M), undefined);
  });

  it("plans delete, creates last-first, then one move, and never touches unmarked rules", () => {
    const live = at([foreign("ops: allow"), rule("b"), rule("x"), foreign("ops: deny")]);
    const desired = [rule("a"), rule("b"), rule("c")];
    const { steps, final } = converge(live, desired);
    assert.deepEqual(
      steps.map(
        (s) => `${s.op} ${s.key}${"pos" in s ? `@${s.pos}` : ""}${s.op === "move" ? `->${s.moveto}` : ""}`,
      ),
      ["delete x@2", "create c", "create a", "move b@3->1"],
    );
    assert.deepEqual(
      final.map((r) => r.comment),
      ["pve-fabric:a", "pve-fabric:b", "pve-fabric:c", "ops: allow", "ops: deny"],
    );
  });

  it("updates a changed rule in place, removing cleared fields through delete", () => {
    const live = at([rule("a", { source: "10.0.0.1", log: "info" })]);
    const { steps, final } = converge(live, [rule("a", { source: "10.0.0.2" })]);
    assert.deepEqual(steps, [
      { op: "update", pos: 0, key: "a", params: { source: "10.0.0.2", delete: "log" } },
    ]);
    assert.equal(final[0].source, "10.0.0.2");
    assert.equal(final[0].log, undefined);
    assert.equal(ruleUpdate(final[0], rule("a", { source: "10.0.0.2" })), undefined);
  });

  it("converges every arrangement of 3 desired + 2 foreign + 1 stale rule, keeping foreign rules in their order", () => {
    const pool = [rule("a"), rule("b"), rule("c"), foreign("f1"), foreign("f2"), rule("stale")];
    const perms = (xs: RuleSpec[]): RuleSpec[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    let worst = 0;
    for (const p of perms(pool)) {
      const { steps, final } = converge(at(p), [rule("a"), rule("b"), rule("c")]);
      worst = Math.max(worst, steps.length);
      assert.deepEqual(
        final.slice(0, 3).map((r) => r.comment),
        ["pve-fabric:a", "pve-fabric:b", "pve-fabric:c"],
      );
      assert.deepEqual(
        final.slice(3).map((r) => r.comment),
        p.filter((r) => r.comment!.startsWith("f")).map((r) => r.comment),
      );
    }
    assert.equal(worst, 4, "at most: delete the stale rule + one move per desired rule");
  });

  it("reports drift by key: missing, unwanted, changed, misordered", () => {
    const live = at([foreign("ops"), rule("b", { dport: "23" }), rule("zz")]);
    assert.deepEqual(drift(live, [rule("a"), rule("b")], M), {
      missing: ["a"],
      unwanted: ["zz"],
      changed: ["b"],
      misordered: true,
    });
    assert.deepEqual(drift(at([rule("a"), rule("b")]), [rule("a"), rule("b")], M), {
      missing: [],
      unwanted: [],
      changed: [],
      misordered: false,
    });
  });
});

describe("lock-out preflight", () => {
  const base = (over: Partial<PreflightInput> = {}): PreflightInput => ({
    enable: 1,
    policyIn: "DROP",
    operatorSources: ["192.0.2.10"],
    rules: [],
    groups: {},
    ipsets: {},
    aliases: {},
    ...over,
  });
  const accept = (extra: Partial<RuleSpec>): RuleSpec => ({
    type: "in",
    action: "ACCEPT",
    enable: true,
    proto: "tcp",
    ...extra,
  });

  it("refuses policy_in DROP without rules, naming port, address and the fix", () => {
    assert.deepEqual(lockoutProblems(base()), [
      "SSH (tcp/22) from 192.0.2.10 would be dropped by policy_in=DROP: add an enabled IN ACCEPT rule for it (or the address to the `management` ipset) before enabling the firewall, or remove the address from operatorSources if it no longer needs access",
      "the API (pveproxy) (tcp/8006) from 192.0.2.10 would be dropped by policy_in=DROP: add an enabled IN ACCEPT rule for it (or the address to the `management` ipset) before enabling the firewall, or remove the address from operatorSources if it no longer needs access",
    ]);
  });
  it("passes when a rule accepts both ports from a CIDR holding the operator, or the firewall stays off, or policy is ACCEPT", () => {
    assert.deepEqual(
      lockoutProblems(base({ rules: [accept({ dport: "22,8006", source: "192.0.2.0/24" })] })),
      [],
    );
    assert.deepEqual(lockoutProblems(base({ enable: 0 })), []);
    assert.deepEqual(lockoutProblems(base({ policyIn: "ACCEPT" })), []);
  });
  it("credits the management ipset, aliases and group references; not a disabled rule or one bound to an interface", () => {
    assert.deepEqual(lockoutProblems(base({ ipsets: { management: ["192.0.2.0/28"] } })), []);
    assert.deepEqual(
      lockoutProblems(
        base({ rules: [accept({ dport: "22:8006", source: "dc/ops" })], aliases: { ops: "192.0.2.10" } }),
      ),
      [],
    );
    assert.deepEqual(
      lockoutProblems(
        base({
          rules: [{ type: "group", action: "mgmt", enable: true }],
          groups: { mgmt: [accept({ macro: "SSH", proto: undefined }), accept({ dport: "8006" })] },
        }),
      ),
      [],
    );
    assert.equal(lockoutProblems(base({ rules: [accept({ dport: "22,8006", enable: false })] })).length, 2);
    assert.equal(lockoutProblems(base({ rules: [accept({ dport: "22,8006", iface: "vmbr0" })] })).length, 2);
  });
  it("lets an earlier DROP rule win over a later ACCEPT and over the management ipset", () => {
    const r = lockoutProblems(
      base({
        rules: [{ type: "in", action: "DROP", enable: true, source: "192.0.2.0/24" }, accept({})],
        ipsets: { management: ["192.0.2.10"] },
      }),
    );
    assert.equal(r.length, 2);
    assert.match(r[0], /^SSH \(tcp\/22\) from 192\.0\.2\.10 would be dropped by a cluster rule/);
  });
});

describe("fabric rules", () => {
  it("builds the group, cluster and vnet rules with exact remote subnets and the tunnel interface", () => {
    const r = fabricRules({
      group: "fabric",
      wgInterface: "wg0",
      wgPort: 51820,
      peerEndpoints: ["198.51.100.2", "198.51.100.3"],
      peerTunnelAddresses: ["10.255.0.3", "10.255.0.2"],
      vnet: "crossvnt",
      remoteSubnets: ["10.2.1.0/24", "10.3.1.0/24"],
      snat: true,
    });
    const flat = (xs: typeof r.group) => xs.map((x) => toSpec(x, M));
    assert.deepEqual(flat(r.group), [
      {
        type: "in",
        action: "ACCEPT",
        enable: true,
        proto: "udp",
        dport: "51820",
        source: "198.51.100.2,198.51.100.3",
        comment: "pve-fabric:wg-in WireGuard from peer sites",
      },
      {
        type: "forward",
        action: "ACCEPT",
        enable: true,
        source: "+sdn/crossvnt-all",
        dest: "10.2.1.0/24,10.3.1.0/24",
        comment: "pve-fabric:fwd-out vnet to remote subnets",
      },
      {
        type: "forward",
        action: "ACCEPT",
        enable: true,
        source: "10.2.1.0/24,10.3.1.0/24",
        dest: "+sdn/crossvnt-all",
        comment: "pve-fabric:fwd-in remote subnets to vnet",
      },
      {
        type: "forward",
        action: "ACCEPT",
        enable: true,
        source: "+sdn/crossvnt-all",
        comment: "pve-fabric:fwd-snat vnet to outside (SNAT)",
      },
    ]);
    assert.deepEqual(flat(r.cluster), [
      { type: "group", enable: true, action: "fabric", comment: "pve-fabric:group fabric security group" },
      {
        type: "in",
        action: "ACCEPT",
        enable: true,
        iface: "wg0",
        proto: "tcp",
        dport: "179",
        source: "10.255.0.2,10.255.0.3",
        comment: "pve-fabric:bgp-in BGP over the tunnel",
      },
      {
        type: "in",
        action: "ACCEPT",
        enable: true,
        iface: "wg0",
        proto: "udp",
        dport: "4789",
        source: "10.255.0.2,10.255.0.3",
        comment: "pve-fabric:vxlan-in VXLAN over the tunnel",
      },
    ]);
    assert.deepEqual(
      r.vnet.map((x) => x.key),
      ["vnet-local", "vnet-out", "vnet-in", "vnet-snat"],
    );
    assert.ok(!JSON.stringify(r).includes("10.0.0.0/8"));
  });
});
