/**
 * age v1 encryption (https://age-encryption.org/v1) for snapshot payloads, on Node's native crypto.
 * Haven writes only the binary format with X25519 recipients, so `age -d -i KEYFILE` (or any age
 * implementation) decrypts a payload without Haven. See keys.ts for the glossary.
 */
export { parseRecipient, parseIdentity, generateIdentity, recipientFingerprint } from "./keys";
export type { AgeRecipient, AgeIdentity } from "./keys";
export { parseIdentities, loadIdentityFile } from "./identity-file";
export { createEncryptStream } from "./encrypt-stream";
export { createDecryptStream } from "./decrypt-stream";
