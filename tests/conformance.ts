// Where Proxmox's own SDN test fixtures are: ../shared/conformance beside the checkout, or
// PVE_FABRIC_CONFORMANCE_DIR. One definition for every suite that reads them.
import * as path from "node:path";

export const CONFORMANCE_DIR =
  process.env.PVE_FABRIC_CONFORMANCE_DIR ??
  path.resolve(__dirname, "../../shared/conformance/pve-network-evpn");
