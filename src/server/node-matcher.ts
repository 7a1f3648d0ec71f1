/**
 * Envoy's `envoy.type.matcher.v3.NodeMatcher`, which CSDS requests use to pick clients: a string matcher on the
 * node id and struct matchers on the node metadata, all of which must match (AND). Supported: every
 * `StringMatcher` form but `custom`, and every `ValueMatcher` form. Matchers come from clients: they are checked
 * when compiled, and a bad one is an `INVALID_ARGUMENT` that says what is wrong.
 */
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import type { envoy, JsonValue } from '../types/index.js';

type StringMatcher = envoy.type.matcher.v3.StringMatcher;
type ValueMatcher = envoy.type.matcher.v3.ValueMatcher;
type NodeMatcherMessage = envoy.type.matcher.v3.NodeMatcher;

/** A node as matchers read it: its id and its metadata (a `Struct`, as plain JSON). */
export interface MatchableNode {
  /** The node id. */
  readonly id?: string | null | undefined;
  /** The node metadata. */
  readonly metadata?: Readonly<Record<string, unknown>> | null | undefined;
}

/** A compiled matcher: true when the node matches. */
export type NodePredicate = (node: MatchableNode) => boolean;

/** Longest regular expression accepted from a client. */
const MAX_REGEX_LENGTH = 1024;

function invalid(what: string): XdsError {
  return new XdsError(Code.INVALID_ARGUMENT, `node matcher: ${what}`);
}

/**
 * A client's regular expression, as a full-string JavaScript `RegExp`. Envoy uses RE2, which runs in linear time;
 * JavaScript's engine backtracks, so patterns with a quantified group that itself repeats (`(a+)+`), the shape of
 * catastrophic backtracking, are refused rather than risk holding the event loop.
 */
function compileRegex(pattern: string): RegExp {
  if (pattern.length > MAX_REGEX_LENGTH) throw invalid(`safe_regex is ${pattern.length} characters long; at most ${MAX_REGEX_LENGTH} are accepted`);
  if (/\([^()]*[*+}][^()]*\)\s*[*+{]/.test(pattern)) {
    throw invalid(`safe_regex "${excerpt(pattern, 80)}" repeats a repeated group; this server (no RE2) refuses nested quantifiers`);
  }
  try {
    return new RegExp(`^(?:${pattern})$`, 'su');
  } catch (error) {
    throw invalid(`safe_regex "${excerpt(pattern, 80)}" is not a valid regular expression: ${(error as Error).message}`);
  }
}

function nonEmpty(value: string, field: string): string {
  if (value === '') throw invalid(`${field} must not be empty (use safe_regex to match anything)`);
  return value;
}

/** Compiles a `StringMatcher` into a predicate on strings. */
export function compileStringMatcher(m: StringMatcher, where = 'string matcher'): (value: string) => boolean {
  const fold = m.ignore_case === true;
  const norm = (s: string): string => (fold ? s.toLowerCase() : s);
  if (m.exact !== undefined && m.exact !== null) {
    const want = norm(m.exact);
    return (v) => norm(v) === want;
  }
  if (m.prefix !== undefined && m.prefix !== null) {
    const want = norm(nonEmpty(m.prefix, `${where}.prefix`));
    return (v) => norm(v).startsWith(want);
  }
  if (m.suffix !== undefined && m.suffix !== null) {
    const want = norm(nonEmpty(m.suffix, `${where}.suffix`));
    return (v) => norm(v).endsWith(want);
  }
  if (m.contains !== undefined && m.contains !== null) {
    const want = norm(nonEmpty(m.contains, `${where}.contains`));
    return (v) => norm(v).includes(want);
  }
  if (m.safe_regex !== undefined && m.safe_regex !== null) {
    const regex = compileRegex(m.safe_regex.regex ?? '');
    return (v) => regex.test(v);
  }
  if (m.custom !== undefined && m.custom !== null) throw new XdsError(Code.UNIMPLEMENTED, `node matcher: ${where}.custom (extension matchers) is not supported`);
  throw invalid(`${where} sets none of exact, prefix, suffix, contains, safe_regex`);
}

function isPrimitive(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Compiles a `ValueMatcher` into a predicate on a `google.protobuf.Value` (as plain JSON; undefined when absent). */
export function compileValueMatcher(m: ValueMatcher, where = 'value'): (value: unknown) => boolean {
  if (m.null_match !== undefined && m.null_match !== null) return (v) => v === null;
  if (m.double_match !== undefined && m.double_match !== null) {
    const d = m.double_match;
    if (d.exact !== undefined && d.exact !== null) {
      const exact = Number(d.exact);
      return (v) => typeof v === 'number' && v === exact;
    }
    if (d.range !== undefined && d.range !== null) {
      const start = Number(d.range.start ?? 0);
      const end = Number(d.range.end ?? 0);
      return (v) => typeof v === 'number' && v >= start && v < end;
    }
    throw invalid(`${where}.double_match sets neither exact nor range`);
  }
  if (m.string_match !== undefined && m.string_match !== null) {
    const match = compileStringMatcher(m.string_match, `${where}.string_match`);
    return (v) => typeof v === 'string' && match(v);
  }
  if (m.bool_match !== undefined && m.bool_match !== null) {
    const want = m.bool_match;
    return (v) => v === want;
  }
  if (m.present_match !== undefined && m.present_match !== null) {
    const want = m.present_match;
    return (v) => (v !== undefined && isPrimitive(v)) === want;
  }
  if (m.list_match !== undefined && m.list_match !== null) {
    const oneOf = m.list_match.one_of;
    if (oneOf === undefined || oneOf === null) throw invalid(`${where}.list_match sets no one_of`);
    const match = compileValueMatcher(oneOf, `${where}.list_match.one_of`);
    return (v) => Array.isArray(v) && v.some(match);
  }
  if (m.or_match !== undefined && m.or_match !== null) {
    const alternatives = (m.or_match.value_matchers ?? []).map((a, i) => compileValueMatcher(a, `${where}.or_match.value_matchers[${i}]`));
    if (alternatives.length < 2) throw invalid(`${where}.or_match needs at least two value_matchers`);
    return (v) => alternatives.some((a) => a(v));
  }
  throw invalid(`${where} sets no match`);
}

function lookup(metadata: unknown, path: readonly string[]): unknown {
  let value = metadata;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, JsonValue>)[key];
  }
  return value;
}

/** Compiles one `NodeMatcher`: the node id matcher and every metadata matcher must match. */
export function compileNodeMatcher(m: NodeMatcherMessage, where = 'node_matchers[0]'): NodePredicate {
  const checks: NodePredicate[] = [];
  if (m.node_id !== undefined && m.node_id !== null) {
    const match = compileStringMatcher(m.node_id, `${where}.node_id`);
    checks.push((node) => match(node.id ?? ''));
  }
  (m.node_metadatas ?? []).forEach((s, i) => {
    const at = `${where}.node_metadatas[${i}]`;
    const path = (s.path ?? []).map((segment, j) => {
      if (segment.key === undefined || segment.key === null || segment.key === '') throw invalid(`${at}.path[${j}] has no key`);
      return segment.key;
    });
    if (path.length === 0) throw invalid(`${at}.path is empty`);
    if (s.value === undefined || s.value === null) throw invalid(`${at} has no value matcher`);
    const match = compileValueMatcher(s.value, `${at}.value`);
    checks.push((node) => match(lookup(node.metadata ?? {}, path)));
  });
  return (node) => checks.every((check) => check(node));
}

/**
 * Compiles the `node_matchers` of a CSDS request: a node is selected when any matcher matches (OR), or always
 * when there is none.
 */
export function compileNodeMatchers(matchers: readonly NodeMatcherMessage[] | null | undefined): NodePredicate {
  const compiled = (matchers ?? []).map((m, i) => compileNodeMatcher(m, `node_matchers[${i}]`));
  if (compiled.length === 0) return () => true;
  return (node) => compiled.some((match) => match(node));
}
