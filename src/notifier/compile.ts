/**
 * Compiles a user's notifier module (TypeScript) once, before any execution: one TypeScript program
 * over the module and the local files it imports, type-checked against mmu-race's own typings, and
 * emitted to CommonJS in memory. Thousands of executions then run the compiled code.
 *
 * Why the compiler API and a full type-check (rather than ts-node, or transpile-only): a type error in
 * a driver is nearly always a real mistake (a misspelled callback is an excess property of
 * `defineNotifier({...})`, a lock handle passed where a table handle belongs, a missing `yield*`), and
 * the user should hear it as `file:line:col` before a race is reported against code they did not mean.
 * One program gives both the diagnostics and the emitted code, touches no global `require` hook, and
 * costs about a second per `check`; `--transpile-only` skips the semantic check.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { UsageError } from '../runtime/errors';

/** One emitted file: CommonJS code and its source map (JSON). */
export interface CompiledFile {
  readonly js: string;
  readonly map: string;
}

/** The user's module and every local file it imports, compiled. Plain data (it crosses to a worker). */
export interface CompiledModule {
  /** Absolute path of the module named on the command line. */
  readonly entry: string;
  /** Emitted files by absolute source path. */
  readonly files: Readonly<Record<string, CompiledFile>>;
}

export interface CompileOptions {
  /** Report semantic (type) errors too; otherwise only syntax errors. Default true. */
  readonly typeCheck?: boolean;
}

/** The root of the installed mmu-race package (the directory of its package.json). */
export const PACKAGE_ROOT = resolve(__dirname, '..', '..');

/** What `import … from 'mmu-race'` means in a user module: this package's own typings. */
function apiTypings(): string {
  // Run from src/ (tests) the sources are the typings; run from dist/ (the CLI) the emitted .d.ts.
  return __filename.endsWith('.ts') ? join(PACKAGE_ROOT, 'src', 'index.ts') : join(PACKAGE_ROOT, 'dist', 'index.d.ts');
}

/**
 * The module's only global besides the language's own: `console`, for debugging. Node's own types
 * are left out (a notifier does no I/O; loading them would double the time the check takes).
 */
const GLOBALS_FILE = join(PACKAGE_ROOT, '__mmu_race_globals__.d.ts');
const GLOBALS = 'declare var console: { log(...data: unknown[]): void; error(...data: unknown[]): void; warn(...data: unknown[]): void };\n';

function compilerOptions(): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    ignoreDeprecations: '6.0',
    lib: ['lib.es2022.d.ts'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    allowJs: true,
    sourceMap: true,
    types: [],
    paths: { 'mmu-race': [apiTypings()] },
    outDir: join(PACKAGE_ROOT, '__mmu_race_out__'),
    noEmitOnError: false,
  };
}

function formatDiagnostic(d: ts.Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
  if (!d.file || d.start === undefined) return `error TS${d.code}: ${text}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${relative(process.cwd(), d.file.fileName) || d.file.fileName}:${line + 1}:${character + 1} - error TS${d.code}: ${text}`;
}

/** Throws UsageError unless `file` is an existing .ts/.js file; returns its absolute path. */
export function resolveModulePath(file: string): string {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UsageError(`notifier module not found: ${file}`);
  if (!statSync(abs).isFile()) throw new UsageError(`notifier module is not a file: ${file}`);
  if (!['.ts', '.js', '.cts', '.cjs'].includes(extname(abs))) throw new UsageError(`notifier module must be a TypeScript (.ts) or JavaScript (.js) file, got ${file}`);
  return abs;
}

/** Whether `fileName` is the user's (not a library, not mmu-race itself). */
function isUserFile(fileName: string): boolean {
  const abs = resolve(fileName);
  if (abs.includes(`${'/'}node_modules${'/'}`) || abs.endsWith('.d.ts')) return false;
  return !abs.startsWith(join(PACKAGE_ROOT, 'src') + '/') && !abs.startsWith(join(PACKAGE_ROOT, 'dist') + '/');
}

/**
 * Type-checks and compiles `file`. Throws UsageError listing the first errors as `file:line:col`
 * when the module does not compile.
 */
export function compileNotifierModule(file: string, opts: CompileOptions = {}): CompiledModule {
  const entry = resolveModulePath(file);
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) => (resolve(name) === GLOBALS_FILE ? ts.createSourceFile(name, GLOBALS, lang) : read(name, lang, onError, create));
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => resolve(name) === GLOBALS_FILE || exists(name);
  const program = ts.createProgram({ rootNames: [entry, GLOBALS_FILE], options, host });
  const fail = (kind: string, all: readonly ts.Diagnostic[]) => {
    const errors = all.filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length === 0) return;
    const shown = errors.slice(0, 10).map(formatDiagnostic);
    const more = errors.length > 10 ? `\n  … and ${errors.length - 10} more` : '';
    throw new UsageError(`${relative(process.cwd(), entry) || entry} does not compile (TypeScript ${kind} error${errors.length > 1 ? 's' : ''}):\n  ${shown.join('\n  ')}${more}`);
  };
  // Only the user's files are reported on: mmu-race's own typings are checked by its own build.
  const userFiles = program.getSourceFiles().filter((sf) => !sf.isDeclarationFile && isUserFile(sf.fileName));
  fail('syntax', userFiles.flatMap((sf) => program.getSyntacticDiagnostics(sf)));
  if (opts.typeCheck !== false) fail('type', [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...userFiles.flatMap((sf) => program.getSemanticDiagnostics(sf))]);
  const files: Record<string, CompiledFile> = {};
  for (const sf of userFiles) {
    let js = '';
    let map = '';
    program.emit(sf, (name, text) => {
      if (name.endsWith('.map')) map = text;
      else if (name.endsWith('.js') || name.endsWith('.cjs')) js = text;
    });
    files[resolve(sf.fileName)] = { js, map };
  }
  if (!files[entry]) throw new UsageError(`${file} was not compiled (is it inside node_modules?)`);
  return { entry, files };
}
