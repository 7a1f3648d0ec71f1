/**
 * Self-signed TLS certificates for tests, made with `node:crypto` alone (no `openssl` binary needed): an
 * ECDSA P-256 key and a minimal X.509 certificate (version 1, no extensions) signed by that key.
 *
 * Good for a TLS server whose clients pin the certificate or skip verification; not a CA.
 *
 * @module
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** A certificate with its private key, in PEM. */
export interface SelfSigned {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The private key, PKCS#8 PEM. */
  readonly keyPem: string;
  /** SHA-256 fingerprint in Node's format (`AB:CD:…`), as `X509Certificate.fingerprint256` and `getPeerX509Certificate()` report it. */
  readonly fingerprint256: string;
}

// DER encoding of the few ASN.1 types a certificate needs.
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else if (n < 0x100) length = Buffer.from([0x81, n]);
  else if (n < 0x10000) length = Buffer.from([0x82, n >> 8, n & 0xff]);
  else throw new Error('DER content too long for this encoder');
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const sequence = (...items: Buffer[]): Buffer => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => der(0x31, Buffer.concat(items));
const utf8String = (text: string): Buffer => der(0x0c, Buffer.from(text, 'utf8'));
const bitString = (bytes: Buffer): Buffer => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));
function positiveInteger(bytes: Buffer): Buffer {
  const trimmed = bytes[0] === 0 ? bytes.subarray(1) : bytes;
  return der(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}
function utcTime(date: Date): Buffer {
  // YYMMDDHHMMSSZ, valid for 1950–2049.
  const iso = date.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return der(0x17, Buffer.from(text, 'ascii'));
}
/** OID 2.5.4.3 (commonName). */
const COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]);
/** AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters. */
const ECDSA_WITH_SHA256 = sequence(Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));

/**
 * Makes a self-signed certificate for `commonName`, valid from an hour ago for `days` days, with a fresh
 * P-256 key. Each call gives a different key and serial number, hence a different fingerprint.
 *
 * @param commonName - subject and issuer CN.
 * @param days - validity in days; default 1.
 */
export function selfSignedCertificate(commonName: string, days = 1): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = sequence(set(sequence(COMMON_NAME, utf8String(commonName))));
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000 + 3_600_000);
  const serial = randomBytes(16);
  serial[0] = serial[0] & 0x7f;
  // Version 1 (the default, so the [0] version field is omitted), no extensions.
  const tbs = sequence(
    positiveInteger(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(utcTime(notBefore), utcTime(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const x509 = new X509Certificate(certPem);
  if (!x509.checkPrivateKey(privateKey) || !x509.verify(publicKey)) throw new Error('generated certificate does not verify');
  return { certPem, keyPem, fingerprint256: x509.fingerprint256 };
}

/** SHA-256 fingerprint of a DER certificate in `AB:CD:…` form. */
export function fingerprint256(derCertificate: Buffer): string {
  return (createHash('sha256').update(derCertificate).digest('hex').toUpperCase().match(/../g) ?? []).join(':');
}
