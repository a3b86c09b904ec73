// The house rules of issue 8, measured: how many non-test lines `cmd/` holds, and which non-test
// functions in the source the product ships (apis, runtime, controllers, cmd) are longer than the
// limit. `node hack/house.ts` prints the figures; the unit test cmd/house.test.ts keeps them within
// the limits. Test code is not counted: `*.test.ts`, and the shared contract suites
// (`*.contract.ts`, which are describe/it blocks run by the tests of each adapter and its fake, and
// which the lint config treats as tests too). hack/, bench/ and test/ are not shipped.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const CMD_LINES_MAX = 1500;
export const FUNCTION_LINES_MAX = 80;

/** The folders whose code the product ships (what esbuild bundles into dist/). */
export const SHIPPED_DIRS = ['apis', 'runtime', 'controllers', 'cmd'] as const;

export interface FunctionSpan {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

/** A test file: a test, or a contract suite the tests of an adapter and its fake share. */
function isTestFile(name: string): boolean {
  return name.endsWith('.test.ts') || name.endsWith('.contract.ts');
}

/** Every non-test .ts file below dir (relative to root). */
export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'testdata') walk(p);
      } else if (e.name.endsWith('.ts') && !isTestFile(e.name) && !e.name.endsWith('.d.ts')) {
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
  if (ts.isConstructorDeclaration(node)) {
    const cls = node.parent;
    return `${ts.isClassLike(cls) && cls.name ? cls.name.getText() : '(class)'} constructor`;
  }
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

/** The functions longer than the limit, as `file:line name (N lines)`, longest first. */
export function overLimit(spans: readonly FunctionSpan[]): string[] {
  return spans
    .filter((s) => s.lines > FUNCTION_LINES_MAX)
    .map((s) => `${s.file}:${s.line} ${s.name} (${s.lines} lines)`);
}

function printSpans(spans: readonly FunctionSpan[]): void {
  for (const s of spans) console.log(`${String(s.lines).padStart(5)}  ${s.file}:${s.line}  ${s.name}`);
}

/**
 * `node hack/house.ts [dir] [top]`: cmd/'s lines and longest functions, then every function over
 * the limit in the shipped source (or in dir alone, when given) and its `top` longest.
 */
function main(): void {
  const root = new URL('..', import.meta.url).pathname;
  const top = Number(process.argv[3] ?? 10);
  const cmd = sourceFiles(root, 'cmd');
  console.log(`cmd/: ${cmd.length} non-test files, ${lineCount(root, cmd)} lines (limit ${CMD_LINES_MAX})`);
  printSpans(functionSpans(root, cmd).slice(0, 3));
  const dirs = process.argv[2] ? [process.argv[2]] : SHIPPED_DIRS;
  const files = dirs.flatMap((d) => sourceFiles(root, d));
  const spans = functionSpans(root, files);
  const over = spans.filter((s) => s.lines > FUNCTION_LINES_MAX);
  console.log(
    `${dirs.map((d) => `${d}/`).join(' ')}: ${files.length} non-test files, ${lineCount(root, files)} lines, ` +
      `${spans.length} functions, ${over.length} over ${FUNCTION_LINES_MAX} lines:`,
  );
  printSpans(over);
  console.log(`the ${top} longest:`);
  printSpans(spans.slice(0, top));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
