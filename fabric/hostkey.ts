// SSH host keys as a stack pins them: the `SHA256:` fingerprint `ssh-keygen -l` prints, or the OpenSSH
// public-key line (`ssh-ed25519 AAAA… comment`, the host's /etc/ssh/ssh_host_*_key.pub). A key line's
// fingerprint is derived as OpenSSH derives it (sshkey.c, sshkey_fingerprint_raw + SSH_FP_BASE64): SHA-256
// over the decoded key blob, base64 without padding. Pure; used by the fabric schema, the program settings
// and the SSH layer (providers/host/ssh.ts).
import { createHash } from "node:crypto";

/** Host key algorithms sshd offers (sshd_config HostKeyAlgorithms; security-key types are user keys only). */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** "SHA256:<base64, unpadded>" of a raw SSH public key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOfBlob(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

export type HostKey = { ok: true; fingerprint: string } | { ok: false; reason: string };

/** A pinned host key, either form, to its fingerprint; `reason` says what is wrong with anything else. */
export function parseHostKey(text: string): HostKey {
  const k = text.trim();
  if (FINGERPRINT.test(k)) return { ok: true, fingerprint: k };
  const fail = (reason: string): HostKey => ({ ok: false, reason });
  if (/PRIVATE KEY/.test(k))
    return fail(
      "is a private key: pin the host's *public* key (/etc/ssh/ssh_host_ed25519_key.pub), and treat the pasted private key as exposed",
    );
  if (k.startsWith("SHA256:"))
    return fail("a SHA256 fingerprint is `SHA256:` and 43 base64 characters, as `ssh-keygen -lf` prints it");
  const [type, b64] = k.split(/\s+/);
  // Every SSH key type name has a '-' (ssh-ed25519, ecdsa-sha2-nistp256): anything else is no key line.
  if (b64 === undefined || !/^[a-z0-9.@]+(-[a-z0-9.@]+)+$/.test(type))
    return fail(
      "is neither a SHA256 fingerprint nor an OpenSSH public key line (`<type> <base64 key> [comment]`)",
    );
  if (!(HOST_KEY_TYPES as readonly string[]).includes(type))
    return fail(`'${type}' is not an SSH host key type (one of ${HOST_KEY_TYPES.join(", ")})`);
  const blob = Buffer.from(b64, "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || blob.toString("base64") !== b64)
    return fail("the key is not valid base64 (cut short, wrapped or edited?)");
  // The blob starts with its own algorithm name as an SSH string (RFC 4253 §6.6): uint32 length, bytes.
  const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const name = n >= 0 && 4 + n <= blob.length ? blob.subarray(4, 4 + n).toString("latin1") : "";
  const embedded = /^[\x21-\x7e]{1,64}$/.test(name) ? name : undefined;
  if (embedded !== type)
    return fail(
      embedded === undefined
        ? "the base64 part is not an SSH public key blob"
        : `the key blob is a '${embedded}' key, but the line says '${type}' (parts of two keys?)`,
    );
  return { ok: true, fingerprint: fingerprintOfBlob(blob) };
}
