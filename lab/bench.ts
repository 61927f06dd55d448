// Lab up/down wall times. `bash scripts/with-env.sh ts-node --transpile-only lab/bench.ts [runs] [sites]`
// Targets (issue 4): up <= 15 s, down <= 2 s on 2 cores. `down` is measured with FRR and wireguard-go
// running on every host, as after the product converged the fabric. LAB_BENCH_API=0 leaves the API emulator
// out (its Node start-up is most of `up`).
import { spawnSync } from "node:child_process";
import { down, enterArgs, up } from "./lab";

async function main() {
  const runs = Number(process.argv[2] ?? 3);
  const nSites = Number(process.argv[3] ?? 2);
  // The full pid: unique among running processes (a pid modulo 10000 is not).
  const name = `bench${process.pid.toString(36)}`;
  const sites = ["roz", "wro", "waw", "gda", "krk", "poz"].slice(0, nSites).map((s) => ({ name: s }));
  const ups: number[] = [];
  const downs: number[] = [];
  const api = process.env.LAB_BENCH_API === "0" ? false : undefined;
  let withApi = false;
  try {
    for (let i = 0; i < runs; i++) {
      let t = process.hrtime.bigint();
      const s = await up({ name, sites }, { api });
      withApi = s.sites[0].api.url !== null;
      ups.push(Number(process.hrtime.bigint() - t) / 1e9);
      if (s.state !== "up") throw new Error(`lab not up: ${s.problems.join("; ")}`);
      for (const site of s.sites) {
        const argv = [
          ...enterArgs(name, site.name),
          "/bin/sh",
          "-ec",
          "sed -i 's/^bgpd=no/bgpd=yes/' /etc/frr/daemons; systemctl start frr; " +
            "umask 077; printf '[Interface]\\nPrivateKey = %s\\nListenPort = 51820\\n' $(wg genkey) > /etc/wireguard/wg0.conf; " +
            "systemctl start wg-quick@wg0 2>/dev/null",
        ];
        const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`starting FRR/WireGuard on ${site.name}: ${r.stderr}`);
      }
      t = process.hrtime.bigint();
      await down(name);
      downs.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
  } finally {
    await down(name).catch(() => {});
  }
  const fmt = (xs: number[]) =>
    `min ${Math.min(...xs).toFixed(2)} s, median ${xs
      .slice()
      .sort((a, b) => a - b)
      [Math.floor(xs.length / 2)].toFixed(2)} s, max ${Math.max(...xs).toFixed(2)} s`;
  console.log(
    `lab bench: ${nSites} sites, ${runs} runs, API emulator ${withApi ? "started" : "not started"}`,
  );
  console.log(`  up   ${fmt(ups)}  (target <= 15 s)`);
  console.log(`  down ${fmt(downs)}  (target <= 2 s; FRR + wireguard-go running on every host)`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
