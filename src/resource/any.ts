import type { Any, TypeMap } from '../../generated/types.js';
import { decodeMessage, encodeMessage, type JsonMessage } from './codec.js';
import { typeNameOf, typeUrlOf } from './type-url.js';

/**
 * The TypeScript type of the message a type name or type URL names: the generated type for a message of the
 * Envoy API (`MessageOf<'envoy.extensions.filters.http.router.v3.Router'>`), a plain object for any other (a
 * type added with `addProtoFiles`, or a name only known at run time).
 */
export type MessageOf<T extends string> = T extends `${string}/${infer Name}`
  ? Name extends keyof TypeMap
    ? TypeMap[Name]
    : Record<string, unknown>
  : T extends keyof TypeMap
    ? TypeMap[T]
    : Record<string, unknown>;

/**
 * Packs a message into a `google.protobuf.Any` in ProtoJSON shape: `{ '@type': url, ...fields }`, which is what a
 * `typed_config` field takes, as go's `anypb.New`. The message is checked by the compiler against the type its
 * name names (for the Envoy API's types), and validated now, so a mistake is reported where it is made rather
 * than when the enclosing resource is encoded.
 *
 * @param typeNameOrUrl - `envoy.extensions.filters.http.router.v3.Router` or its type URL
 * @param message - the message's fields in ProtoJSON shape
 */
export function pack<T extends string>(typeNameOrUrl: T, message?: MessageOf<T>): Any {
  const fields: object = message ?? {};
  encodeMessage(typeNameOrUrl, fields);
  return { ...fields, '@type': typeUrlOf(typeNameOrUrl) };
}

/**
 * Unpacks a `google.protobuf.Any`, given in ProtoJSON shape (`@type`) or binary shape (`type_url` and `value`
 * bytes), into its type URL and message (ProtoJSON shape, proto field names).
 */
export function unpack(any: Any | { type_url: string; value: Uint8Array }): { typeUrl: string; message: JsonMessage } {
  const binary = any as { type_url?: unknown; value?: unknown };
  if (typeof binary.type_url === 'string' && binary.value instanceof Uint8Array) {
    return { typeUrl: binary.type_url, message: decodeMessage(typeNameOf(binary.type_url), binary.value) };
  }
  const { ['@type']: typeUrl, ...fields } = any as Any;
  if (typeof typeUrl !== 'string') throw new TypeError('an Any in ProtoJSON shape needs a string "@type"');
  const bytes = encodeMessage(typeUrl, fields);
  return { typeUrl, message: decodeMessage(typeUrl, bytes) };
}
