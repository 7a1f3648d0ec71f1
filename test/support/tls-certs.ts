/**
 * TLS certificates for tests, made with `node:crypto` alone (no `openssl` binary needed), all with ECDSA P-256
 * keys:
 * - {@link selfSignedCertificate}: a minimal X.509 certificate (version 1, no extensions) signed by its own key,
 *   for a TLS server whose clients pin the certificate or skip verification;
 * - {@link certificateAuthority} and {@link issueCertificate}: a CA and version 3 certificates it signs, with
 *   subject alternative names (DNS, URI such as a SPIFFE id, IP), for mutual TLS.
 *
 * @module
 */
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

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

const octetString = (bytes: Buffer): Buffer => der(0x04, bytes);
const oid = (...bytes: number[]): Buffer => der(0x06, Buffer.from(bytes));
const BASIC_CONSTRAINTS = oid(0x55, 0x1d, 0x13);
const KEY_USAGE = oid(0x55, 0x1d, 0x0f);
const EXTENDED_KEY_USAGE = oid(0x55, 0x1d, 0x25);
const SUBJECT_ALT_NAME = oid(0x55, 0x1d, 0x11);
const SERVER_AUTH = oid(0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01);
const CLIENT_AUTH = oid(0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

function extension(id: Buffer, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(id, TRUE, octetString(value)) : sequence(id, octetString(value));
}

/** A certificate authority: its certificate and key, to issue certificates with {@link issueCertificate}. */
export interface CertificateAuthority extends SelfSigned {
  readonly name: Buffer;
  readonly privateKey: KeyObject;
}

/** Names a certificate of {@link issueCertificate} is for. */
export interface CertificateNames {
  readonly commonName: string;
  /** DNS subject alternative names. */
  readonly dns?: readonly string[];
  /** URI subject alternative names (a SPIFFE id is one). */
  readonly uris?: readonly string[];
  /** IPv4 subject alternative names. */
  readonly ips?: readonly string[];
}

function pem(certificate: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
}

/** A version 3 certificate of `subject`'s key, signed by `issuerKey`, with the given extensions. */
function certificateV3(issuerName: Buffer, issuerKey: KeyObject, subject: Buffer, publicKey: KeyObject, extensions: Buffer[], days: number): string {
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000 + 3_600_000);
  const serial = randomBytes(16);
  serial[0] = serial[0] & 0x7f;
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // version 3
    positiveInteger(serial),
    ECDSA_WITH_SHA256,
    issuerName,
    sequence(utcTime(notBefore), utcTime(notAfter)),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, sequence(...extensions)),
  );
  return pem(sequence(tbs, ECDSA_WITH_SHA256, bitString(sign('sha256', tbs, issuerKey))));
}

const nameOf = (commonName: string): Buffer => sequence(set(sequence(COMMON_NAME, utf8String(commonName))));

/** Makes a certificate authority (version 3, `CA:TRUE`) named `commonName`, with a fresh key. */
export function certificateAuthority(commonName: string, days = 1): CertificateAuthority {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = nameOf(commonName);
  const certPem = certificateV3(name, privateKey, name, publicKey, [
    extension(BASIC_CONSTRAINTS, true, sequence(TRUE)),
    extension(KEY_USAGE, true, der(0x03, Buffer.from([0x01, 0x06]))), // keyCertSign, cRLSign
  ], days);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem, keyPem, fingerprint256: new X509Certificate(certPem).fingerprint256, name, privateKey };
}

/**
 * Issues a certificate for `names`, signed by `ca`, good for TLS servers and clients alike, with a fresh key.
 *
 * @param ca - the issuer
 * @param names - common name and subject alternative names
 */
export function issueCertificate(ca: CertificateAuthority, names: CertificateNames, days = 1): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const alternatives = [
    ...(names.dns ?? []).map((dns) => der(0x82, Buffer.from(dns, 'ascii'))),
    ...(names.uris ?? []).map((uri) => der(0x86, Buffer.from(uri, 'ascii'))),
    ...(names.ips ?? []).map((ip) => der(0x87, Buffer.from(ip.split('.').map(Number)))),
  ];
  const extensions = [
    extension(BASIC_CONSTRAINTS, true, sequence()),
    extension(KEY_USAGE, true, der(0x03, Buffer.from([0x07, 0x80]))), // digitalSignature
    extension(EXTENDED_KEY_USAGE, false, sequence(SERVER_AUTH, CLIENT_AUTH)),
  ];
  if (alternatives.length > 0) extensions.push(extension(SUBJECT_ALT_NAME, false, sequence(...alternatives)));
  const certPem = certificateV3(ca.name, ca.privateKey, nameOf(names.commonName), publicKey, extensions, days);
  const x509 = new X509Certificate(certPem);
  if (!x509.verify(createPublicKey(ca.privateKey))) throw new Error('issued certificate does not verify');
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), fingerprint256: x509.fingerprint256 };
}

/** SHA-256 fingerprint of a DER certificate in `AB:CD:…` form. */
export function fingerprint256(derCertificate: Buffer): string {
  return (createHash('sha256').update(derCertificate).digest('hex').toUpperCase().match(/../g) ?? []).join(':');
}
