/**
 * Resource helpers: type URLs, names and references of resources, Any packing, deterministic encoding and
 * decoding, content hashes, ProtoJSON in and out, and well-known extension names. The counterpart of
 * go-control-plane's `pkg/resource/v3` and `pkg/wellknown`.
 *
 * Resources are plain objects in ProtoJSON shape with the field names of the `.proto` files, as in Envoy's YAML
 * docs: `{ name: 'c', connect_timeout: '5s', type: 'EDS' }`.
 *
 * @packageDocumentation
 */
export { TypeUrl, TYPE_URL_PREFIX, RESOURCE_TYPE_URLS, TYPE_SHORT_NAME, isResourceTypeUrl, assertResourceTypeUrl, typeNameOf, typeUrlOf } from './type-url.js';
export type { ResourceTypeUrl, ResourceTypeMap } from './type-url.js';
export { XdsError, ResourceError, Code, excerpt, EXCERPT_LENGTH } from './xds-error.js';
export { getResourceName, globCollectionOf, isGlobCollection } from './resource-name.js';
export { getResourceReferences } from './references.js';
export { pack, unpack } from './any.js';
export { encodeMessage, decodeMessage, fromJson, toJson, canonicalize, contentHash } from './codec.js';
export type { JsonMessage, ToJsonOptions } from './codec.js';
export { addProtoFiles, lookupType } from './registry.js';
export { WellKnown, ExtensionTypeUrl } from './wellknown.js';
