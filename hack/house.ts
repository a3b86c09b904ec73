// The house rules of issue 8, measured: how many non-test lines `cmd/` holds and which non-test
// functions there are longer than the limit. `node hack/house.ts` prints the figures; the unit
// test cmd/house.test.ts keeps them within the limits (cmd/ is wiring).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const CMD_LINES_MAX = 1500;
export const FUNCTION_LINES_MAX = 80;

export interface FunctionSpan {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

/** Every non-test .ts file below dir (relative to root). */
export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'testdata') walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) {
        out.push(relative(root, p));
      }
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** Lines in the files (as `wc -l` counts them). */
export function lineCount(root: string, files: readonly string[]): number {
  let n = 0;
  for (const f of files) n += readFileSync(join(root, f), 'utf8').split('\n').length - 1;
  return n;
}

function nameOf(node: ts.Node): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name) {
    return node.name.getText();
  }
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) {
    return p.name.getText();
  }
  if (ts.isCallExpression(p)) {
    const callee = p.expression.getText();
    const first = p.arguments[0];
    const label = first && ts.isStringLiteral(first) ? ` ${first.text}` : '';
    return `${callee.split('\n')[0]}(${label.trim()}) callback`;
  }
  return '(anonymous)';
}

/** Every function (declaration, method, arrow, expression) in the files, longest first. */
export function functionSpans(root: string, files: readonly string[]): FunctionSpan[] {
  const spans: FunctionSpan[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (
        ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isArrowFunction(node) ||
        ts.isFunctionExpression(node) ||
        ts.isConstructorDeclaration(node)
      ) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        spans.push({ file, name: nameOf(node), line: start + 1, lines: end - start + 1 });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return spans.sort((a, b) => b.lines - a.lines);
}

function main(): void {
  const root = new URL('..', import.meta.url).pathname;
  const dir = process.argv[2] ?? 'cmd';
  const files = sourceFiles(root, dir);
  const spans = functionSpans(root, files);
  console.log(
    `${dir}/: ${files.length} non-test files, ${lineCount(root, files)} lines (limit ${CMD_LINES_MAX})`,
  );
  const over = spans.filter((s) => s.lines > FUNCTION_LINES_MAX);
  console.log(`functions over ${FUNCTION_LINES_MAX} lines: ${over.length}`);
  for (const s of spans.slice(0, Number(process.argv[3] ?? 10))) {
    console.log(`${String(s.lines).padStart(5)}  ${s.file}:${s.line}  ${s.name}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
