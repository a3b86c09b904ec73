/**
 * orun's sops adapter: decrypts sops files whose data key is wrapped for age (X25519), verifying
 * the MAC, and keeps decrypted values redacted by construction ({@link SecretString}).
 * See README.md beside this file for the format notes and the API.
 */
export {
  type DecryptOptions,
  decryptSopsDocument,
  decryptSopsDocuments,
  decryptSopsObject,
  decryptSopsSecrets,
  isSopsDocument,
  openSopsFile,
  type OpenedSopsFile,
} from './decrypt.ts';
export { type InlinePlace, inlineAad, openInline, sealInline } from './inline.ts';
export { type EncryptOptions, encryptSopsDocument, wrapDataKey } from './encrypt.ts';
export { type UpdatedKeys, updateKeys } from './updatekeys.ts';
export {
  type AgeIdentities,
  type AgeIdentitySource,
  type KeyPathTried,
  type LoadAgeIdentitiesOptions,
  AgeKeyring,
  decryptDataKey,
  loadAgeIdentities,
  parseAgeKeyFile,
} from './age.ts';
export { REDACTED, SecretString, revealValue } from './secret.ts';
export { SopsErrorCode } from './errors.ts';
export { type SopsMetadata, type SopsRule, type SopsAgeEntry, parseSopsMetadata } from './metadata.ts';
export { type SopsValueType, isEncryptedValue } from './cipher.ts';
export { loadNodeSecretKey, nodeSecretKeyPath } from './nodekey.ts';
export { type SopsProblem, type SopsStructure, checkSopsStructure } from './structure.ts';
export { type PlainSopsFile, decryptToYaml } from './plaintext.ts';
export { type CreationRule, creationRuleFor, findSopsConfig } from './config.ts';
export {
  type DecryptedManifest,
  decryptManifest,
  hasSopsBlock,
  loadRootSecrets,
  ManifestDecryptError,
  openInlineValues,
  SopsManifestDecryptor,
} from './manifest.ts';
