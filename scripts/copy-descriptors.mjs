#!/usr/bin/env node
// After tsc: copies generated/descriptors/ (the per-package descriptors that the library reads on first use of
// a type) next to the compiled code, where it looks for them (dist/generated/descriptors/).
import { cpSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const target = join(root, 'dist', 'generated', 'descriptors');
rmSync(target, { recursive: true, force: true });
cpSync(join(root, 'generated', 'descriptors'), target, { recursive: true });
