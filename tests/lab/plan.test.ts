// The lab's address plan, names, collision check and host files: pure, exact values.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { labDefinitionFromFabric } from "../../lab/fabric";
import { hostsFile, interfacesFile, q } from "../../lab/host";
import {
  buildPlan,
  chooseBase,
  collisions,
  claimedRanges,
  machineNetsFromIpJson,
  namespacesOf,
  parseDefinition,
  type MachineNets,
} from "../../lab/plan";

const seed = () => parseDefinition({ sites: [{ name: "roz" }, { name: "wro" }] });
const quiet: MachineNets = { addrs: [{ ifname: "eth0", cidr: "192.0.2.2/24" }], routes: [] };

// `ip -j -4 addr` / `ip -j -4 route show table all` as this CI machine prints them (trimmed).
const IP_ADDR = [
  { ifname: "lo", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }] },
  { ifname: "eth0", addr_info: [{ family: "inet", local: "192.0.2.2", prefixlen: 24 }] },
];
const IP_ROUTE = [
  { dst: "default", gateway: "192.0.2.1", dev: "eth0" },
  { dst: "192.0.2.0/24", dev: "eth0" },
  { type: "local", dst: "127.0.0.0/8", dev: "lo", table: "local" },
  { type: "broadcast", dst: "192.0.2.255", dev: "eth0", table: "local" },
];

describe("lab plan", () => {
  it("gives the seed's sites one host each, addresses from 198.18.0.0/16 and names under the lab's prefix", () => {
    const plan = buildPlan(seed(), "198.18.0.0/16");
    assert.deepEqual(plan.operator, {
      netns: "lab-operator",
      subnet: "198.18.0.0/24",
      gateway: "198.18.0.1",
      address: "198.18.0.2",
      inetIf: "operator",
    });
    assert.deepEqual(
      plan.sites.map((s) => [s.name, s.subnet, s.gateway, s.inetBridge, s.apiHost, s.pveVersion]),
      [
        ["roz", "198.18.1.0/24", "198.18.1.1", "br-roz", "roz1", "9.1"],
        ["wro", "198.18.2.0/24", "198.18.2.1", "br-wro", "wro1", "9.1"],
      ],
    );
    assert.deepEqual(plan.sites[0].hosts, [
      {
        site: "roz",
        name: "roz1",
        aliases: [],
        index: 1,
        netns: "lab-roz-roz1",
        address: "198.18.1.10",
        inetIf: "roz-1",
      },
    ]);
    assert.deepEqual(plan.sites[1].vm, {
      site: "wro",
      name: "vm",
      vmid: 100,
      host: "wro1",
      netns: "lab-wro-vm",
      nics: [
        { name: "eth0", tap: "tap100i0", bridge: null, address: null },
        { name: "eth1", tap: "tap100i1", bridge: "vmbr0", address: "198.18.2.100/24" },
      ],
    });
    assert.deepEqual(namespacesOf(plan), [
      "lab-inet",
      "lab-operator",
      "lab-roz-roz1",
      "lab-roz-vm",
      "lab-wro-wro1",
      "lab-wro-vm",
    ]);
  });

  it("numbers a third site and a second node in order", () => {
    const def = parseDefinition({
      name: "x",
      sites: [
        { name: "roz" },
        { name: "wro", nodes: ["a", "b"], pveVersion: "8.4", vmid: 123 },
        { name: "waw" },
      ],
    });
    const plan = buildPlan(def, "100.127.0.0/16");
    assert.deepEqual(
      plan.sites.flatMap((s) => s.hosts.map((h) => [h.netns, h.address, h.inetIf])),
      [
        ["x-roz-roz1", "100.127.1.10", "roz-1"],
        ["x-wro-a", "100.127.2.10", "wro-1"],
        ["x-wro-b", "100.127.2.11", "wro-2"],
        ["x-waw-waw1", "100.127.3.10", "waw-1"],
      ],
    );
    assert.equal(plan.sites[1].pveVersion, "8.4");
    assert.deepEqual(
      plan.sites[1].vm.nics.map((n) => n.tap),
      ["tap123i0", "tap123i1"],
    );
  });

  it("refuses bad names with the field, the value, the rule and the fix", () => {
    assert.throws(
      () => parseDefinition({ sites: [{ name: "Roz" }, { name: "wro", nodes: ["vm"] }] }),
      (e: Error) => {
        assert.equal(
          e.message,
          [
            "Invalid lab definition:",
            "  - sites.0.name: \"Roz\" is not a valid site name: 2–32 characters: lowercase letters, digits and '-', starting with a letter. Fix: rename it, e.g. 'roz'",
            "  - sites.1.nodes.0: 'vm' is reserved for the site's VM stand-in. Fix: pick another node name",
          ].join("\n"),
        );
        return true;
      },
    );
  });

  it("refuses a single site and a duplicated site name", () => {
    assert.throws(
      () => parseDefinition({ sites: [{ name: "roz" }] }),
      /sites: a fabric needs at least two sites/,
    );
    assert.throws(
      () => parseDefinition({ sites: [{ name: "roz" }, { name: "roz" }] }),
      /sites\.1\.name: site name 'roz' is used twice/,
    );
  });

  it("reads the machine's addresses and routes from ip -j, ignoring the default route", () => {
    assert.deepEqual(machineNetsFromIpJson(IP_ADDR, IP_ROUTE), {
      addrs: [
        { ifname: "lo", cidr: "127.0.0.1/8" },
        { ifname: "eth0", cidr: "192.0.2.2/24" },
      ],
      routes: [
        { dst: "192.0.2.0/24", dev: "eth0", table: undefined },
        { dst: "127.0.0.0/8", dev: "lo", table: "local" },
        { dst: "192.0.2.255", dev: "eth0", table: "local" },
      ],
    });
  });

  it("names every collision: a machine route, a machine address, and the fabric's own range", () => {
    const plan = buildPlan(seed(), "198.18.0.0/16");
    const machine: MachineNets = {
      addrs: [{ ifname: "eth1", cidr: "198.18.2.7/24" }],
      routes: [{ dst: "198.18.0.0/23", dev: "eth9" }],
    };
    assert.deepEqual(collisions(claimedRanges(plan), machine, ["198.18.1.128/25"]), [
      "198.18.0.0/24 (operator link) overlaps route 198.18.0.0/23 dev eth9",
      "198.18.1.0/24 (site roz public subnet) overlaps route 198.18.0.0/23 dev eth9",
      "198.18.1.0/24 (site roz public subnet) overlaps 198.18.1.128/25, which the fabric uses",
      "198.18.2.0/24 (site wro public subnet) overlaps address 198.18.2.7/24 on eth1",
    ]);
    assert.deepEqual(collisions(claimedRanges(plan), quiet, ["10.0.0.0/8"]), []); // control
  });

  it("refuses an explicit base that collides, and says how to fix it", () => {
    const def = parseDefinition({ base: "203.0.112.0/20", sites: [{ name: "roz" }, { name: "wro" }] });
    const proxy: MachineNets = { addrs: [], routes: [{ dst: "203.0.113.80", dev: "eth0" }] };
    assert.throws(
      () => chooseBase(def, proxy),
      (e: Error) => {
        assert.equal(
          e.message,
          "The lab's address plan collides with this machine (base 203.0.112.0/20):\n" +
            "  - 203.0.113.0/24 (site roz public subnet) overlaps route 203.0.113.80 dev eth0\n" +
            "Fix: pick a free base range (--base <cidr>, a /16), or leave it out and the lab picks one of " +
            "198.18.0.0/16, 198.19.0.0/16, 100.127.0.0/16, 172.31.0.0/16.",
        );
        return true;
      },
    );
  });

  it("without a base, skips candidates in use and says so", () => {
    const machine: MachineNets = { addrs: [], routes: [{ dst: "198.18.0.0/15", dev: "eth1" }] };
    const { plan, note } = chooseBase(seed(), machine);
    assert.equal(plan.base, "100.127.0.0/16");
    assert.equal(
      note,
      "base 100.127.0.0/16 (skipped, in use: 198.18.0.0/16: 198.18.0.0/24 (operator link) overlaps route 198.18.0.0/15 dev eth1; " +
        "198.19.0.0/16: 198.19.0.0/24 (operator link) overlaps route 198.18.0.0/15 dev eth1)",
    );
    assert.equal(chooseBase(seed(), quiet).plan.base, "198.18.0.0/16");
  });

  it("refuses a base with host bits set instead of silently moving it", () => {
    assert.throws(
      () => buildPlan(seed(), "203.0.113.0/16"),
      /^Error: lab base range 203\.0\.113\.0\/16 has host bits set\. Fix: write the network address, 203\.0\.0\.0\/16$/,
    );
  });

  it("refuses a base too small for the sites", () => {
    assert.throws(
      () => buildPlan(seed(), "198.18.0.0/24"),
      /198\.18\.0\.0\/24 is too small: it must hold 3 \/24 subnets/,
    );
  });
});

describe("lab host files", () => {
  const plan = buildPlan(seed(), "198.18.0.0/16");
  const [roz, wro] = plan.sites;

  it("writes /etc/network/interfaces the way a Proxmox install does, describing what is running", () => {
    assert.equal(
      interfacesFile(roz, roz.hosts[0]),
      "auto lo\niface lo inet loopback\n\niface eth0 inet manual\n\nauto vmbr0\niface vmbr0 inet static\n" +
        "\taddress 198.18.1.10/24\n\tgateway 198.18.1.1\n\tbridge-ports eth0\n\tbridge-stp off\n\tbridge-fd 0\n" +
        "\tbridge-ports-condone-regex ^(tap|veth|fwpr|fwln)\n\nsource /etc/network/interfaces.d/*\n",
    );
  });

  it("resolves its own name to its address and every other lab host by <node>.<site>.lab", () => {
    assert.equal(
      hostsFile(plan, wro.hosts[0]),
      "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n198.18.1.10 roz1.roz.lab\n198.18.2.10 wro1.wro.lab wro1\n",
    );
  });

  it("quotes shell words only when needed, and quotes quotes", () => {
    assert.deepEqual(["roz1", "/a/b.c", "a b", "it's", ""].map(q), [
      "roz1",
      "/a/b.c",
      "'a b'",
      `'it'"'"'s'`,
      "''",
    ]);
  });
});

describe("lab topology from fabric.yaml", () => {
  it("takes the stacks' sites and node names, resolves endpoint names, and avoids tunnel and overlay ranges", () => {
    const raw = parseYaml(fs.readFileSync(path.join(__dirname, "../../fabric.yaml"), "utf8"));
    const { definition, warnings } = labDefinitionFromFabric(raw, "fabric.yaml");
    assert.deepEqual(definition, {
      sites: [
        { name: "roz", nodes: [{ name: "proxmox-dell-r740", aliases: ["roz.example.net"] }] },
        { name: "wro", nodes: [{ name: "pve-wro", aliases: ["wro.example.net"] }] },
      ],
      avoid: ["10.1.1.0/24", "10.1.0.1/32", "10.2.1.0/24", "10.2.0.1/32"],
    });
    assert.deepEqual(warnings, []);
    const plan = buildPlan(parseDefinition(definition), "198.18.0.0/16");
    assert.equal(
      hostsFile(plan, plan.sites[1].hosts[0]),
      "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" +
        "198.18.1.10 proxmox-dell-r740.roz.lab roz.example.net\n198.18.2.10 pve-wro.wro.lab pve-wro wro.example.net\n",
    );
  });

  it("warns when an endpoint is an address the lab cannot have", () => {
    const raw = parseYaml(fs.readFileSync(path.join(__dirname, "../../fabric.yaml"), "utf8")) as {
      sites: { wro: { nodes: { endpoint: string }[] } };
    };
    raw.sites.wro.nodes[0].endpoint = "203.0.113.7";
    const { definition, warnings } = labDefinitionFromFabric(raw, "f.yaml");
    assert.deepEqual(definition.sites[1].nodes, [{ name: "pve-wro", aliases: [] }]);
    assert.deepEqual(warnings, [
      "f.yaml: sites.wro node pve-wro has the endpoint 203.0.113.7, an address the lab does not have; the lab " +
        "gives it wro's lab address. Use a DNS name as endpoint to have it resolve in the lab.",
    ]);
  });

  it("refuses an invalid fabric with the fabric model's own problem list", () => {
    assert.throws(
      () => labDefinitionFromFabric({ asn: 65000 }, "bad.yaml"),
      /problems? in the fabric configuration/,
    );
  });

  it("gives sites with long names short interface names in the internet namespace", () => {
    const plan = buildPlan(
      parseDefinition({ sites: [{ name: "krakow-north" }, { name: "roz" }] }),
      "198.18.0.0/16",
    );
    assert.deepEqual(
      plan.sites.map((s) => [s.inetBridge, s.hosts[0].inetIf, s.hosts[0].netns]),
      [
        ["br-s1", "s1-1", "lab-krakow-north-krakow-north1"],
        ["br-roz", "roz-1", "lab-roz-roz1"],
      ],
    );
  });
});
