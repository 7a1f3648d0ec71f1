/**
 * Who a client is, and whether it may have what it asks for. The server asks the `authorize` option once per
 * stream, at its first request (when the node is known), and once per `Fetch…` call or REST request; a denial
 * ends the stream with `PERMISSION_DENIED` (REST: 403) before the cache sees the node.
 *
 * The identity to trust is the client certificate that the TLS handshake verified, never what the node says
 * about itself: {@link bindNodeToCertificate} accepts a node only when its id (or a metadata field) is a subject
 * alternative name of that certificate.
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import type { Node } from '../types/index.js';
import type { AuthContext, RequestContext } from './callbacks.js';

/** The client certificate the TLS handshake verified against the server's trusted CAs. */
export interface VerifiedCertificate {
  /** The subject's distinguished name, one `KEY=value` per line as `X509Certificate.subject` gives it. */
  readonly subject: string;
  /** The subject's common name (CN), if any. */
  readonly commonName: string | undefined;
  /** DNS subject alternative names. */
  readonly dnsNames: readonly string[];
  /** URI subject alternative names. */
  readonly uris: readonly string[];
  /** The SPIFFE id: the URI SAN that starts with `spiffe://`, if there is exactly one. */
  readonly spiffeId: string | undefined;
  /** SHA-256 fingerprint, `AB:CD:…`. */
  readonly fingerprint256: string;
}

/** What `authorize` is asked about: a client, the node it says it is, and what it asks for first. */
export interface AuthorizeRequest extends RequestContext {
  /** How the client asks: a SotW or delta stream, a `Fetch…` call, or a REST request. */
  readonly kind: 'sotw' | 'delta' | 'fetch' | 'rest';
  /** The type of the first request (of the stream), or of the fetch. */
  readonly typeUrl: ResourceTypeUrl;
  /** The node of the first request, as the client sent it. */
  readonly node: Node;
  /** The verified client certificate; undefined without mutual TLS. */
  readonly certificate: VerifiedCertificate | undefined;
}

/**
 * The answer of `authorize`. Allowed, possibly with the node to serve instead of the client's: the cache's key
 * function (`SnapshotCache`'s `hash`) then sees that node, so an authorizer that sets `id` from the certificate
 * makes the snapshot a client gets depend on its verified identity alone. Denied, with the reason the client
 * reads in its status.
 */
export type Authorization = { readonly allowed: true; readonly node?: Node | undefined } | { readonly allowed: false; readonly reason: string };

/**
 * Decides whether a client may be served; see {@link AuthorizeRequest}. It may return a promise (the stream reads
 * nothing more until it settles). What it throws ends the stream with the thrown `XdsError`'s status
 * (`INTERNAL` for another error).
 */
export type Authorizer = (request: AuthorizeRequest) => Authorization | Promise<Authorization>;

/** Allows the client, serving `node` in place of the one it sent when given. */
export function allow(node?: Node): Authorization {
  return node === undefined ? { allowed: true } : { allowed: true, node };
}

/** Denies the client; `reason` goes into its `PERMISSION_DENIED` status (REST: 403). */
export function deny(reason: string): Authorization {
  return { allowed: false, reason };
}

// Node prints subject alternative names as `DNS:a, URI:spiffe://x`, quoting a value in JSON when it holds a
// comma, quote or other special character.
const SAN_ENTRY = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;

function parseSubjectAltNames(text: string | undefined): { dns: string[]; uris: string[] } {
  const dns: string[] = [];
  const uris: string[] = [];
  if (text === undefined) return { dns, uris };
  SAN_ENTRY.lastIndex = 0;
  while (SAN_ENTRY.lastIndex < text.length) {
    const match = SAN_ENTRY.exec(text);
    if (match === null) break;
    const value = match[2].startsWith('"') ? (JSON.parse(match[2]) as string) : match[2];
    if (match[1] === 'DNS') dns.push(value);
    else if (match[1] === 'URI') uris.push(value);
  }
  return { dns, uris };
}

/** Reads a peer certificate (as TLS gives it) into a {@link VerifiedCertificate}. */
export function certificateOf(peer: PeerCertificate | undefined): VerifiedCertificate | undefined {
  if (peer?.raw === undefined) return undefined;
  const x509 = new X509Certificate(peer.raw);
  const { dns, uris } = parseSubjectAltNames(x509.subjectAltName);
  const spiffe = uris.filter((uri) => uri.startsWith('spiffe://'));
  const cn = /^CN=(.*)$/m.exec(x509.subject)?.[1];
  return {
    subject: x509.subject,
    commonName: cn,
    dnsNames: dns,
    uris,
    spiffeId: spiffe.length === 1 ? spiffe[0] : undefined,
    fingerprint256: x509.fingerprint256,
  };
}

/** The verified certificate of a gRPC call's auth context (grpc-js gives one only when the handshake verified it). */
export function certificateOfAuthContext(authContext: AuthContext | undefined | null): VerifiedCertificate | undefined {
  return certificateOf(authContext?.sslPeerCertificate);
}

/**
 * Asks `authorize` about a client; resolves to the node to serve, or throws `PERMISSION_DENIED` with the
 * authorizer's reason. Returns the node at once (no promise) when there is no authorizer or it answered
 * synchronously, so that a stream need not wait a turn of the event loop.
 */
export function authorizeNode(authorize: Authorizer | undefined, request: AuthorizeRequest): Node | Promise<Node> {
  if (authorize === undefined) return request.node;
  const verdict = (authorization: Authorization): Node => {
    if (authorization.allowed) return authorization.node ?? request.node;
    throw new XdsError(Code.PERMISSION_DENIED, `not authorized: ${authorization.reason}`);
  };
  const answer = authorize(request);
  return isPromise(answer) ? answer.then(verdict) : verdict(answer);
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

/** Options of {@link bindNodeToCertificate}. */
export interface BindNodeOptions {
  /**
   * Where the node names its identity: `'id'` (default), or `{ metadata: key }` for a string field of
   * `node.metadata`.
   */
  readonly field?: 'id' | { readonly metadata: string } | undefined;
  /**
   * Which names of the certificate may match: `'spiffe'` (the SPIFFE id), `'uri'`, `'dns'`, or `'any'` (DNS or
   * URI SAN; the default).
   */
  readonly san?: 'spiffe' | 'uri' | 'dns' | 'any' | undefined;
}

function namesOf(certificate: VerifiedCertificate, san: NonNullable<BindNodeOptions['san']>): readonly string[] {
  switch (san) {
    case 'spiffe':
      return certificate.spiffeId === undefined ? [] : [certificate.spiffeId];
    case 'uri':
      return certificate.uris;
    case 'dns':
      return certificate.dnsNames;
    case 'any':
      return [...certificate.dnsNames, ...certificate.uris];
  }
}

/**
 * An authorizer that binds a node to its client certificate: the node's id (or a metadata field) must be one of
 * the certificate's subject alternative names. A client without a verified certificate, or whose node names
 * another identity, is denied: it can never be served a snapshot keyed to another node, Secrets included.
 *
 * ```ts
 * createServer(cache, { authorize: bindNodeToCertificate({ san: 'spiffe' }) });
 * await xds.listen('0.0.0.0:18000', ServerCredentials.createSsl(ca, [{ cert_chain, private_key }], true));
 * ```
 */
export function bindNodeToCertificate(options: BindNodeOptions = {}): Authorizer {
  const field = options.field ?? 'id';
  const san = options.san ?? 'any';
  const fieldName = field === 'id' ? 'node id' : `node metadata "${field.metadata}"`;
  return ({ node, certificate }) => {
    if (certificate === undefined) {
      return deny('no verified client certificate; connect with mutual TLS, presenting a certificate the server trusts');
    }
    const claimed = field === 'id' ? node.id : (node.metadata as Record<string, unknown> | undefined)?.[field.metadata];
    if (typeof claimed !== 'string' || claimed === '') return deny(`the ${fieldName} is missing; it must name the client certificate's identity`);
    const names = namesOf(certificate, san);
    if (names.includes(claimed)) return allow();
    const held = names.length === 0 ? `no ${san === 'any' ? 'DNS or URI' : san} SAN` : names.map((name) => excerpt(name, 100)).join(', ');
    return deny(`${fieldName} "${excerpt(claimed)}" is not an identity of the client certificate (${held})`);
  };
}
