// Usable unicast space (issue 16): tunnel addresses, subnets and gateways refuse every special-purpose IPv4
// range except RFC 1918 and 100.64.0.0/10; WireGuard endpoints refuse what other sites cannot route to;
// SSH/API addresses and underlay ranges refuse only what can never name a host. Each problem names the field,
// the range and the rule, with the fix. IPv4 parsing is ipaddr.js's, at our strictness.
import assert from "node:assert/strict";
import ipaddr from "ipaddr.js";
import { checkStack, formatProblems, validateFabric } from "../../fabric";
import {
  addressVerdict,
  cidrOf,
  hostCidr,
  isIPv4,
  offset,
  parseCidr,
  parseIPv4,
  SPECIAL_RANGES,
} from "../../fabric/net";
import { rozStack, seedFabric } from "./fixtures/fabric";
import { only, problemsOf } from "./fixtures/problems";

const OVERLAY_RULE =
  "tunnel addresses, overlay subnets and gateways must be unicast space the fabric may route between sites: " +
  "RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), 100.64.0.0/10, or public space you hold";
const OVERLAY_FIX = "take it from 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10";

describe("IPv4 through ipaddr.js (fabric/net.ts)", () => {
  it("parses dotted quads only: no leading zeros, shorthand, hex or spaces", () => {
    assert.equal(parseIPv4("10.1.0.1")?.toString(), "10.1.0.1");
    for (const bad of ["010.1.0.1", "10.1", "0x0a.0.0.1", "10.1.0.1 ", "256.1.1.1", "10.1.0.1/32", ""])
      assert.equal(isIPv4(bad), false, bad);
  });

  it("parses CIDRs keeping the written address and the network; refuses bad prefixes", () => {
    const c = parseCidr("10.1.1.5/24")!;
    assert.deepEqual([c.address.toString(), c.network.toString(), c.prefix], ["10.1.1.5", "10.1.1.0", 24]);
    for (const bad of ["10.1.1.0/33", "10.1.1.0/024", "10.1.1.0/", "10.1.1/24", "10.1.1.0/2 4"])
      assert.equal(parseCidr(bad), undefined, bad);
  });

  it("adds offsets and stays inside the IPv4 space", () => {
    assert.equal(offset(parseIPv4("10.1.1.250")!, 10)?.toString(), "10.1.2.4");
    assert.equal(offset(parseIPv4("255.255.255.250")!, 10), undefined);
  });

  it("names every special-purpose range ipaddr.js knows (a library update that adds one fails here)", () => {
    assert.deepEqual(
      SPECIAL_RANGES.filter((r) => r.tag === "unnamed").map((r) => r.text),
      [],
    );
    // The classification is the library's: each range's kind is what ipaddr.js's range() says of its network.
    for (const r of SPECIAL_RANGES) assert.equal(r.kind, r.cidr.network.range(), r.text);
    assert.equal(ipaddr.IPv4.parse("198.18.0.1").range(), "reserved");
  });

  it("decides per role: overlay, peer (WireGuard endpoint), local (SSH, API, underlay)", () => {
    const verdict = (text: string, role: "overlay" | "peer" | "local") => {
      const a = parseIPv4(text);
      const v = addressVerdict(a ? hostCidr(a) : cidrOf(text)!, role);
      return v.use === "ok" || v.use === "public" ? v.use : `${v.use} ${v.range.cidr.network.toString()}`;
    };
    const table: [string, string, string, string][] = [
      // address           overlay                 peer                    local
      ["10.1.0.1", "ok", "ok", "ok"],
      ["100.64.0.1", "ok", "ok", "ok"],
      ["8.8.8.0/24", "public", "ok", "ok"],
      ["100.0.0.0/8", "public", "ok", "ok"], // partly CGNAT, partly public
      ["198.18.0.10", "refused 198.18.0.0", "ok", "ok"], // the lab's underlay
      ["203.0.113.10", "refused 203.0.113.0", "placeholder 203.0.113.0", "placeholder 203.0.113.0"],
      ["127.0.0.1", "refused 127.0.0.0", "refused 127.0.0.0", "ok"], // an SSH port forward
      ["169.254.1.1", "refused 169.254.0.0", "refused 169.254.0.0", "ok"],
      ["0.0.0.0", "refused 0.0.0.0", "refused 0.0.0.0", "refused 0.0.0.0"],
      ["224.0.0.5", "refused 224.0.0.0", "refused 224.0.0.0", "refused 224.0.0.0"],
      ["255.255.255.255", "refused 255.255.255.255", "refused 255.255.255.255", "refused 255.255.255.255"],
      ["240.0.0.1", "refused 240.0.0.0", "refused 240.0.0.0", "refused 240.0.0.0"],
      ["192.0.0.0/16", "refused 192.0.0.0", "refused 192.0.0.0", "placeholder 192.0.2.0"],
    ];
    for (const [text, overlay, peer, local] of table)
      assert.deepEqual(
        [verdict(text, "overlay"), verdict(text, "peer"), verdict(text, "local")],
        [overlay, peer, local],
        text,
      );
  });
});

describe("fabric guardrails: usable unicast space", () => {
  const cases: [string, (f: ReturnType<typeof seedFabric>) => void, string, string, string][] = [
    [
      "a link-local tunnel address",
      (f) => (f.sites.wro.nodes[0].tunnelAddress = "169.254.0.2"),
      "sites.wro.nodes[0].tunnelAddress",
      "is in 169.254.0.0/16 (link-local, RFC 3927)",
      "10.1.0.1",
    ],
    [
      "a loopback tunnel address",
      (f) => (f.sites.wro.nodes[0].tunnelAddress = "127.0.0.2"),
      "sites.wro.nodes[0].tunnelAddress",
      "is in 127.0.0.0/8 (loopback, RFC 1122)",
      "10.1.0.1",
    ],
    [
      "an unspecified tunnel address",
      (f) => (f.sites.wro.nodes[0].tunnelAddress = "0.0.0.0"),
      "sites.wro.nodes[0].tunnelAddress",
      'is in 0.0.0.0/8 ("this network", RFC 791)',
      "10.1.0.1",
    ],
    [
      "a subnet in the benchmarking range (the lab's underlay)",
      (f) => (f.sites.wro.subnets.crossvnt = { cidr: "198.18.4.0/24", gateway: "198.18.4.1", snat: true }),
      "sites.wro.subnets.crossvnt.cidr",
      "overlaps 198.18.0.0/15 (benchmarking, RFC 2544)",
      "10.1.1.0/24",
    ],
    [
      "a subnet in reserved 240.0.0.0/4",
      (f) => (f.sites.wro.subnets.crossvnt = { cidr: "250.1.0.0/16", gateway: "250.1.0.1", snat: true }),
      "sites.wro.subnets.crossvnt.cidr",
      "overlaps 240.0.0.0/4 (reserved for future use, RFC 1112)",
      "10.1.1.0/24",
    ],
    [
      "a multicast gateway",
      (f) => (f.sites.wro.subnets.crossvnt.gateway = "224.0.0.1"),
      "sites.wro.subnets.crossvnt.gateway",
      "is in 224.0.0.0/4 (multicast, RFC 5771)",
      "10.1.1.1",
    ],
    [
      "a subnet in a documentation range",
      (f) => (f.sites.wro.subnets.crossvnt = { cidr: "192.0.2.0/24", gateway: "192.0.2.1", snat: true }),
      "sites.wro.subnets.crossvnt.cidr",
      "overlaps 192.0.2.0/24 (documentation TEST-NET-1, RFC 5737)",
      "10.1.1.0/24",
    ],
  ];
  for (const [what, mutate, path, found, example] of cases) {
    it(`refuses ${what}, naming the range and the rule`, () => {
      const f = seedFabric();
      mutate(f);
      // A refused subnet's gateway is refused too (same range); each case asserts its own field.
      const p = only(
        problemsOf(f).filter((x) => !x.path.endsWith(".gateway") || path.endsWith(".gateway")),
        path,
      );
      assert.equal(p.rule, `${found}, a special-purpose range: ${OVERLAY_RULE}`);
      assert.equal(p.fix, `${OVERLAY_FIX}, e.g. ${example}`);
    });
  }

  it("accepts RFC 1918 and 100.64.0.0/10 overlays, and warns about public space (positive controls)", () => {
    const f = seedFabric();
    f.sites.roz.nodes[0].tunnelAddress = "100.64.0.1";
    f.sites.wro.nodes[0].tunnelAddress = "172.16.0.2";
    f.sites.wro.subnets.crossvnt = { cidr: "11.2.1.0/24", gateway: "11.2.1.1", snat: true };
    const r = checkStack({ stack: "roz", fabric: f, config: rozStack() });
    assert.ok(r.ok, r.ok ? "" : formatProblems(r.problems));
    assert.deepEqual(
      r.warnings.filter((w) => w.startsWith("public")),
      [
        "public address space: sites.wro.subnets.crossvnt.cidr (11.2.1.0/24) is public unicast space; the fabric routes it between its sites instead of to the internet, so use it only if your organisation holds it (else take RFC 1918 space)",
      ],
    );
  });

  it("refuses a loopback WireGuard endpoint (other sites cannot reach it), accepts 198.18.0.0/15", () => {
    const f = seedFabric();
    f.sites.roz.nodes[0].endpoint = "127.0.0.1";
    const p = only(problemsOf(f), "sites.roz.nodes[0].endpoint");
    assert.equal(
      p.rule,
      "is in 127.0.0.0/8 (loopback, RFC 1122), a special-purpose range: a WireGuard endpoint is the address " +
        "the other sites send their packets to, so it must be a unicast address they can route to",
    );
    assert.equal(p.fix, "use the node's public (or inter-site) address, or a DNS name, e.g. roz.example.net");
    f.sites.roz.nodes[0].endpoint = "198.18.0.10";
    assert.equal(validateFabric(f).ok, true);
  });

  it("refuses a multicast SSH address and an unspecified API endpoint; accepts an SSH port forward on loopback", () => {
    const config = rozStack();
    config.nodes.pve1.address = "224.0.0.9";
    config.api.endpoint = "https://0.0.0.0:8006";
    const r = checkStack({ stack: "roz", fabric: seedFabric(), config });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.rule, p.fix]),
      [
        [
          "pve-fabric:api.endpoint",
          'is in 0.0.0.0/8 ("this network", RFC 791), a special-purpose range: it must name one host or network (a unicast range)',
          "use the address the hosts really have, e.g. https://192.168.3.2:8006",
        ],
        [
          "pve-fabric:nodes.pve1.address",
          "is in 224.0.0.0/4 (multicast, RFC 5771), a special-purpose range: it must name one host or network (a unicast range)",
          "use the address the hosts really have, e.g. 192.168.3.2",
        ],
      ],
    );
    const ok = rozStack();
    ok.nodes.pve1.address = "127.0.0.1";
    ok.nodes.pve1.port = 2222;
    assert.equal(checkStack({ stack: "roz", fabric: seedFabric(), config: ok }).ok, true);
  });

  it("refuses an underlay range that overlaps multicast", () => {
    const f = seedFabric();
    f.sites.roz.underlay = ["224.0.0.0/8"];
    const p = only(problemsOf(f), "sites.roz.underlay[0]");
    assert.match(p.rule, /^overlaps 224\.0\.0\.0\/4 \(multicast, RFC 5771\), a special-purpose range/);
  });

  it("marks documentation addresses of endpoints and SSH as placeholders (warnings, exit 0)", () => {
    const config = rozStack();
    config.nodes.pve1.address = "192.0.2.10";
    const r = checkStack({ stack: "roz", fabric: seedFabric(), config });
    assert.ok(r.ok);
    assert.deepEqual(
      r.warnings.filter((w) => w.includes("documentation")),
      [
        "placeholder: sites.roz.nodes[0].endpoint is a documentation address in 203.0.113.0/24 (documentation TEST-NET-3, RFC 5737); replace it before `pulumi up -s roz`",
        "placeholder: pve-fabric:nodes.pve1.address is a documentation address in 192.0.2.0/24 (documentation TEST-NET-1, RFC 5737); replace it before `pulumi up -s roz`",
      ],
    );
  });
});
