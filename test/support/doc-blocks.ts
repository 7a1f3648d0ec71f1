/**
 * The ```ts blocks of Markdown files and the `<!-- doc-test: ... -->` comments before them (setup code, or
 * "typecheck only: reason"), for test/docs-examples.test.ts and the recipe tests.
 *
 * @module
 */

/** A ```ts block of a Markdown file, with what its doc-test comment says. */
export interface DocBlock {
  /** `docs/x.md:12`, where the block starts. */
  readonly where: string;
  readonly code: string;
  readonly setup: string;
  /** Why the block is only typechecked; `undefined` when it runs. */
  readonly typecheckOnly: string | undefined;
}

/** The ```ts blocks of one Markdown text. */
export function docBlocks(file: string, markdown: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  const lines = markdown.split('\n');
  let comment = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('<!-- doc-test:')) {
      comment = line;
      while (!comment.includes('-->') && i + 1 < lines.length) comment += `\n${lines[++i]}`;
      continue;
    }
    if (line.trim() === '') continue;
    if (line.trimEnd() === '```ts') {
      const start = i + 1;
      const body: string[] = [];
      while (i + 1 < lines.length && !(lines[i + 1] ?? '').startsWith('```')) body.push(lines[++i] ?? '');
      i++;
      const directive = /^<!-- doc-test:\s*([\s\S]*?)\s*-->$/.exec(comment)?.[1] ?? '';
      const [head = '', ...rest] = directive.split('\n');
      const typecheckOnly = /^typecheck only:\s*(.+)$/.exec(head)?.[1];
      const setup = head === 'setup' || typecheckOnly ? rest.join('\n') : '';
      blocks.push({ where: `${file}:${start}`, code: body.join('\n'), setup, typecheckOnly });
    }
    comment = '';
  }
  return blocks;
}
