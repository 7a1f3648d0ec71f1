/**
 * TLS for the gRPC port given as bytes: the arguments of `ServerCredentials.createSsl`, in a form that can be
 * handed to another process. The worker mode needs it (a grpc-js `ServerCredentials` cannot cross a process
 * boundary: each worker builds its own from the same bytes); one process accepts it too, so the same call
 * serves both modes.
 */
import { createSecureContext } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import { asBuffer } from '../resource/codec.js';

/** A certificate chain and its private key, both PEM, as `ServerCredentials.createSsl` takes them. */
export interface TlsKeyCertPair {
  /** The certificate chain, PEM: the server's certificate first, then the intermediates. */
  readonly cert_chain: Buffer;
  /** The private key of the first certificate, PEM. */
  readonly private_key: Buffer;
}

/**
 * TLS for the xDS server's `listen`: the three arguments of `ServerCredentials.createSsl(rootCerts,
 * keyCertPairs, checkClientCertificate)`, by name.
 *
 * ```ts
 * await xds.listen('0.0.0.0:18000', { rootCerts: ca, keyCertPairs: [{ cert_chain: cert, private_key: key }], checkClientCertificate: true });
 * ```
 */
export interface TlsCredentials {
  /** The CAs (PEM) that client certificates must chain to; `null` for Node's default roots, as `createSsl`. */
  readonly rootCerts: Buffer | null;
  /** The server's certificate chains with their keys (usually one). */
  readonly keyCertPairs: readonly TlsKeyCertPair[];
  /**
   * Require a client certificate signed by `rootCerts` (mutual TLS): a client without one is refused in the
   * handshake, and the verified certificate reaches `authorize` and the callbacks' `context.authContext`.
   * Default false.
   */
  readonly checkClientCertificate?: boolean | undefined;
}

/**
 * False for a grpc-js `ServerCredentials` (of any copy of grpc-js: told by its methods, not its class), true for
 * anything else, which is then read as {@link TlsCredentials} and its shape checked.
 */
export function isTlsCredentials(credentials: ServerCredentials | TlsCredentials): credentials is TlsCredentials {
  return typeof (credentials as Partial<ServerCredentials>)._isSecure !== 'function';
}


/** Builds the grpc-js credentials; throws a `TypeError` naming what is wrong with the shape. */
export function serverCredentialsOf(tls: TlsCredentials): ServerCredentials {
  const pairs: unknown = typeof tls === 'object' && tls !== null ? tls.keyCertPairs : undefined;
  if (!Array.isArray(pairs)) {
    throw new TypeError('TLS credentials must be { rootCerts, keyCertPairs, checkClientCertificate }, the arguments of ServerCredentials.createSsl by name (or, without workers, a ServerCredentials)');
  }
  const { rootCerts, keyCertPairs, checkClientCertificate = false } = tls;
  if (keyCertPairs.length === 0) throw new TypeError('TLS credentials: keyCertPairs must list at least one { cert_chain, private_key }');
  if (rootCerts !== null && !(rootCerts instanceof Uint8Array)) throw new TypeError('TLS credentials: rootCerts must be a Buffer of PEM certificates, or null');
  for (const [i, pair] of keyCertPairs.entries()) {
    if (!((pair as Partial<TlsKeyCertPair> | null)?.cert_chain instanceof Uint8Array) || !(pair.private_key instanceof Uint8Array)) {
      throw new TypeError(`TLS credentials: keyCertPairs[${i}] must be { cert_chain: Buffer, private_key: Buffer } (PEM)`);
    }
  }
  if (typeof checkClientCertificate !== 'boolean') throw new TypeError('TLS credentials: checkClientCertificate must be a boolean');
  return ServerCredentials.createSsl(
    rootCerts === null ? null : asBuffer(rootCerts),
    keyCertPairs.map((pair) => ({ cert_chain: asBuffer(pair.cert_chain), private_key: asBuffer(pair.private_key) })),
    checkClientCertificate,
  );
}

/**
 * Checks that the PEM reads (certificates, keys, each key matching its certificate) as TLS would when the port
 * opens; throws an `Error` saying what does not. The worker mode checks here, before it starts any worker.
 */
export function checkTlsCredentials(tls: TlsCredentials): void {
  serverCredentialsOf(tls);
  try {
    for (const pair of tls.keyCertPairs) {
      createSecureContext({ cert: asBuffer(pair.cert_chain), key: asBuffer(pair.private_key), ...(tls.rootCerts === null ? {} : { ca: asBuffer(tls.rootCerts) }) });
    }
  } catch (error) {
    throw new Error(`TLS credentials do not read: ${(error as Error).message}`);
  }
}
