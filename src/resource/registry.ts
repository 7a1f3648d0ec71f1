import { existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import descriptor from '../../generated/envoy.json' with { type: 'json' };
import { Code, XdsError } from './xds-error.js';
import { typeNameOf } from './type-url.js';

/**
 * The protobuf types this library knows: the Envoy, xDS and well-known messages of `generated/envoy.json`, plus
 * whatever the application adds with {@link addProtoFiles} (for extensions outside our generated set).
 *
 * Two roots are kept: `root` reads and writes ProtoJSON with canonical lowerCamel names; `protoNamesRoot`
 * (built on first use) writes the proto field names, which is the shape resources are written in here.
 */
let root: protobuf.Root | undefined;
let protoNamesRoot: protobuf.Root | undefined;
const extraFiles: { files: string[]; includeDirs: string[] }[] = [];

function loadFiles(target: protobuf.Root, files: string[], includeDirs: string[]): void {
  const original = target.resolvePath.bind(target);
  target.resolvePath = (origin, file) => {
    // The first include dir that has the file wins, as with protoc's -I.
    for (const dir of includeDirs) {
      const candidate = join(dir, file);
      if (existsSync(candidate)) return candidate;
    }
    return original(origin, file);
  };
  target.loadSync(files, { keepCase: true });
  target.resolveAll();
}

/** The root with every known type, resolved. */
export function getRoot(): protobuf.Root {
  if (root === undefined) {
    root = protobuf.Root.fromJSON(descriptor);
    root.resolveAll();
    for (const extra of extraFiles) loadFiles(root, extra.files, extra.includeDirs);
  }
  return root;
}

/** A copy of the root whose ProtoJSON output uses the proto field names (`connect_timeout`). */
export function getProtoNamesRoot(): protobuf.Root {
  if (protoNamesRoot === undefined) {
    protoNamesRoot = protobuf.Root.fromJSON(descriptor);
    protoNamesRoot.resolveAll();
    for (const extra of extraFiles) {
      loadFiles(protoNamesRoot, extra.files, extra.includeDirs);
    }
    forceProtoNames(protoNamesRoot);
  }
  return protoNamesRoot;
}

function forceProtoNames(ns: protobuf.NamespaceBase): void {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      for (const field of nested.fieldsArray) (field as { jsonName: string }).jsonName = field.name;
    }
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) forceProtoNames(nested);
  }
}

/**
 * Adds `.proto` files to the known types, for extensions that the generated set does not include (a typed_config
 * of a filter we do not ship, say). `includeDirs` are searched for imports, as protoc's `-I`.
 */
export function addProtoFiles(files: string[], includeDirs: string[] = []): void {
  extraFiles.push({ files, includeDirs });
  if (root !== undefined) loadFiles(root, files, includeDirs);
  if (protoNamesRoot !== undefined) {
    loadFiles(protoNamesRoot, files, includeDirs);
    forceProtoNames(protoNamesRoot);
  }
}

const typeCache = new Map<string, protobuf.Type>();

/**
 * The reflected message type for a fully qualified name or a type URL. Throws `INVALID_ARGUMENT` naming the type
 * when it is not known.
 */
export function lookupType(nameOrUrl: string): protobuf.Type {
  let type = typeCache.get(nameOrUrl);
  if (type !== undefined) return type;
  const name = typeNameOf(nameOrUrl);
  const found = getRoot().lookup(name);
  if (!(found instanceof protobuf.Type)) {
    throw new XdsError(
      Code.INVALID_ARGUMENT,
      `unknown message type "${name}": it is not among the generated Envoy types; add its .proto with addProtoFiles()`,
    );
  }
  type = found;
  typeCache.set(nameOrUrl, type);
  return type;
}

/** Like {@link lookupType}, in the root that writes proto field names. */
export function lookupProtoNamesType(nameOrUrl: string): protobuf.Type {
  lookupType(nameOrUrl);
  return getProtoNamesRoot().lookupType(typeNameOf(nameOrUrl));
}
