// One naive step: dial a connection of its own (pinned host key, the same key, node-ssh, through a fresh
// SshPool so the handshake and the command land in the PVE_FABRIC_SSH_AUDIT trail), run one command, hang up.
// Any exit code is an answer (a read such as `systemctl is-active` exits non-zero on a stopped unit).
import { SshPool, type SshTarget } from "../../../providers/host/ssh";

const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

export async function runStep(target: SshTarget, command: string): Promise<void> {
  const own = new SshPool();
  try {
    await own.exec(target, command, { okExits: ANY_EXIT });
  } finally {
    await own.closeAll();
  }
}
