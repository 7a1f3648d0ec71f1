import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import index from '../../generated/descriptors/index.json' with { type: 'json' };
import { Code, XdsError } from './xds-error.js';
import { typeNameOf } from './type-url.js';

/**
 * The protobuf types this library knows: the whole Envoy API of `generated/descriptors/` (one file per protobuf
 * package, read on first use of one of its types), plus whatever the application adds with
 * {@link addProtoFiles}.
 *
 * Two roots are kept: `root` reads and writes ProtoJSON with canonical lowerCamel names; `protoNamesRoot`
 * (built on first use) writes the proto field names, which is the shape resources are written in here. Both
 * load the same packages.
 */

/** The protoc-gen-validate rules of one message type, as the generator keeps them (`validate.FieldRules` JSON). */
export interface MessageRules {
  /** Rules per field name. */
  fields?: Record<string, Record<string, unknown>>;
  /** Oneofs that must have a field set (`(validate.required) = true`). */
  oneofs?: string[];
  /** The message opted out of validation (`(validate.disabled)` or `(validate.ignored)`). */
  disabled?: boolean;
}

interface Chunk {
  nested: NonNullable<protobuf.INamespace['nested']>;
  rules?: Record<string, MessageRules>;
}

const descriptorDir = new URL('../../generated/descriptors/', import.meta.url);
const dependencies: Readonly<Record<string, readonly string[]>> = index.packages;

const loadedChunks: Chunk[] = [];
const loadedPackages = new Set<string>();
const rules = new Map<string, MessageRules>();
const userSources: { file: string; source: string }[] = [];

let root: protobuf.Root | undefined;
let protoNamesRoot: protobuf.Root | undefined;
/** Bumped when `addProtoFiles` adds types (see {@link typesGeneration}). */
let generation = 0;

/** The package of the generated API that declares `typeName` (`envoy.config.cluster.v3.Cluster.LbPolicy`). */
function packageOf(typeName: string): string | undefined {
  let name = typeName.startsWith('.') ? typeName.slice(1) : typeName;
  for (let dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.')) {
    name = name.slice(0, dot);
    if (Object.hasOwn(dependencies, name)) return name;
  }
  return undefined;
}

/** Reads a package and the packages it needs, in dependency order, into the known types. */
function loadPackage(pkg: string): void {
  if (loadedPackages.has(pkg)) return;
  const order: string[] = [];
  const visit = (p: string): void => {
    if (loadedPackages.has(p) || order.includes(p)) return;
    order.push(p);
    for (const dep of dependencies[p] ?? []) visit(dep);
  };
  visit(pkg);
  const chunks = order.map((p) => JSON.parse(readFileSync(new URL(`${p}.json`, descriptorDir), 'utf8')) as Chunk);
  for (const p of order) loadedPackages.add(p);
  for (const chunk of chunks) {
    loadedChunks.push(chunk);
    for (const [name, r] of Object.entries(chunk.rules ?? {})) rules.set(name, r);
    if (root !== undefined) root.addJSON(chunk.nested);
    if (protoNamesRoot !== undefined) protoNamesRoot.addJSON(chunk.nested);
  }
  if (root !== undefined) root.resolveAll();
  if (protoNamesRoot !== undefined) {
    protoNamesRoot.resolveAll();
    forceProtoNames(protoNamesRoot);
  }
}

/** Loads the package of `typeName` if it is one of the generated API's. */
function ensureLoaded(typeName: string): void {
  const pkg = packageOf(typeName);
  if (pkg !== undefined) loadPackage(pkg);
}

function newRoot(): protobuf.Root {
  const fresh = new protobuf.Root();
  // protobuf.js's ProtoJSON looks up the type of an Any's "@type" here: load its package first.
  const lookupType = fresh.lookupType.bind(fresh);
  fresh.lookupType = (path: string | string[]) => {
    if (typeof path === 'string') ensureLoaded(path);
    return lookupType(path);
  };
  for (const chunk of loadedChunks) fresh.addJSON(chunk.nested);
  for (const { file, source } of userSources) parseInto(fresh, file, source);
  fresh.resolveAll();
  return fresh;
}

/** The root with the types loaded so far, resolved. */
export function getRoot(): protobuf.Root {
  if (root === undefined) {
    ensureLoaded('google.protobuf.Any');
    root = newRoot();
  }
  return root;
}

/** A root whose ProtoJSON output uses the proto field names (`connect_timeout`). */
export function getProtoNamesRoot(): protobuf.Root {
  if (protoNamesRoot === undefined) {
    getRoot();
    protoNamesRoot = newRoot();
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

function parseInto(target: protobuf.Root, file: string, source: string): void {
  protobuf.parse(source, target, { keepCase: true });
  void file;
}

let knownFiles: Record<string, string> | undefined;
/** Which package each `.proto` file of the generated API declares (read on first use). */
function apiFiles(): Record<string, string> {
  knownFiles ??= JSON.parse(readFileSync(new URL('files.json', descriptorDir), 'utf8')) as Record<string, string>;
  return knownFiles;
}

/**
 * Adds `.proto` files to the known types, for extensions that the generated API does not include (a filter of
 * your own, say). `includeDirs` are searched for imports, as protoc's `-I`. Imports of the API's own files
 * (`google/protobuf/duration.proto`, `validate/validate.proto`, `udpa/annotations/status.proto`,
 * `envoy/config/core/v3/address.proto`, ...) are served from the generated API and need no include dir.
 *
 * The files are checked as a whole first: a file that is missing, does not parse or names an unknown type throws
 * an `INVALID_ARGUMENT` error and changes nothing.
 */
export function addProtoFiles(files: string[], includeDirs: string[] = []): void {
  const sources: { file: string; source: string }[] = [];
  const seen = new Set(userSources.map((s) => s.file));
  const packagesNeeded = new Set<string>();
  const read = (file: string, from: string | undefined): void => {
    const known = apiFiles()[file];
    if (known !== undefined) {
      packagesNeeded.add(known);
      return;
    }
    const candidates = from === undefined ? [file, ...includeDirs.map((d) => join(d, file))] : includeDirs.map((d) => join(d, file)).concat(join(dirname(from), file));
    const path = candidates.find((c) => existsSync(c));
    if (path === undefined) {
      throw new XdsError(Code.INVALID_ARGUMENT, `addProtoFiles: cannot find ${file}${from ? ` (imported by ${from})` : ''}; include dirs: ${includeDirs.join(', ') || '(none)'}`);
    }
    if (seen.has(path)) return;
    seen.add(path);
    const source = readFileSync(path, 'utf8');
    let imports: string[] = [];
    try {
      const parsed = protobuf.parse(source, new protobuf.Root(), { keepCase: true });
      imports = [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])];
    } catch (error) {
      throw new XdsError(Code.INVALID_ARGUMENT, `addProtoFiles: ${path}: ${(error as Error).message}`, { cause: error });
    }
    for (const imported of imports) read(imported, path);
    sources.push({ file: path, source });
  };
  for (const file of files) read(file, undefined);

  // Try everything on a scratch root first, so that a failure leaves the known types as they were.
  for (const pkg of packagesNeeded) loadPackage(pkg);
  const scratch = new protobuf.Root();
  for (const chunk of loadedChunks) scratch.addJSON(chunk.nested);
  try {
    for (const { file, source } of [...userSources, ...sources]) parseInto(scratch, file, source);
    scratch.resolveAll();
  } catch (error) {
    throw new XdsError(Code.INVALID_ARGUMENT, `addProtoFiles: ${(error as Error).message}`, { cause: error });
  }
  const added = rulesOfParsed(scratch);
  userSources.push(...sources);
  for (const [name, r] of added) if (!rules.has(name)) rules.set(name, r);
  for (const target of [root, protoNamesRoot]) {
    if (target === undefined) continue;
    for (const { file, source } of sources) parseInto(target, file, source);
    target.resolveAll();
  }
  if (protoNamesRoot !== undefined) forceProtoNames(protoNamesRoot);
  typeCache.clear();
  generation++;
}

/**
 * Changes whenever {@link addProtoFiles} adds types. Content checked before may be judged differently after (an
 * Any of a type unknown then is checked by that type's rules now), so verdicts remembered across calls are kept
 * only within one generation.
 */
export function typesGeneration(): number {
  return generation;
}

/** Deep-merges `from` into `into` (protobuf.js keeps one entry per option statement). */
function merge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const current = into[key];
    if (current !== null && typeof current === 'object' && !Array.isArray(current) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      merge(current as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      into[key] = value;
    }
  }
}

/** The `validate.rules` of the messages of parsed `.proto` files (the generated API's carry none here). */
function rulesOfParsed(ns: protobuf.NamespaceBase, out = new Map<string, MessageRules>()): Map<string, MessageRules> {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      const found: MessageRules = {};
      for (const field of nested.fieldsArray) {
        const fieldRules: Record<string, unknown> = {};
        for (const option of (field.parsedOptions ?? []) as Record<string, unknown>[]) {
          const value = option['(validate.rules)'];
          if (value !== null && typeof value === 'object') merge(fieldRules, value as Record<string, unknown>);
        }
        if (Object.keys(fieldRules).length > 0) (found.fields ??= {})[field.name] = fieldRules;
      }
      for (const oneof of nested.oneofsArray) {
        const parsed = (oneof.parsedOptions ?? []) as Record<string, unknown>[];
        if (parsed.some((o) => o['(validate.required)'] === true)) (found.oneofs ??= []).push(oneof.name);
      }
      const messageOptions = (nested.parsedOptions ?? []) as Record<string, unknown>[];
      if (messageOptions.some((o) => o['(validate.disabled)'] === true || o['(validate.ignored)'] === true)) found.disabled = true;
      if (Object.keys(found).length > 0) out.set(nested.fullName.slice(1), found);
    }
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) rulesOfParsed(nested, out);
  }
  return out;
}

const typeCache = new Map<string, protobuf.Type>();

/**
 * The reflected message type for a fully qualified name or a type URL, its package read on first use. Throws
 * `INVALID_ARGUMENT` naming the type when it is not known.
 */
export function lookupType(nameOrUrl: string): protobuf.Type {
  let type = typeCache.get(nameOrUrl);
  if (type !== undefined) return type;
  const name = typeNameOf(nameOrUrl);
  ensureLoaded(name);
  const found = getRoot().lookup(name);
  if (!(found instanceof protobuf.Type)) {
    throw new XdsError(
      Code.INVALID_ARGUMENT,
      `unknown message type "${name}": it is not in the Envoy ${index.envoy} API; add its .proto with addProtoFiles()`,
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

/** The protoc-gen-validate rules of a message type of the generated API (fully qualified name, no dot). */
export function rulesOf(typeName: string): MessageRules | undefined {
  return rules.get(typeName);
}
