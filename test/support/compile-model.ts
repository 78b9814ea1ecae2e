/**
 * Compile pulled model sources with the TypeScript compiler (strict, noUnusedLocals), importing the
 * builders from this repository as `tenant-migrate`: a model `pull` writes must compile as written.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const BUILDERS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/schema-model/index.ts');

/** The compiler's diagnostics for each source (empty lists: all compile). */
export function compileModels(sources: readonly string[]): string[][] {
  const dir = mkdtempSync(path.join(tmpdir(), 'tm-pulled-'));
  try {
    const files = sources.map((s, i) => {
      const file = path.join(dir, `model${i}.ts`);
      writeFileSync(file, s);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      noUnusedLocals: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: ['node'],
      paths: { 'tenant-migrate': [BUILDERS] },
    });
    const all = ts.getPreEmitDiagnostics(program);
    return files.map((f) =>
      all.filter((d) => d.file?.fileName === f || !d.file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
