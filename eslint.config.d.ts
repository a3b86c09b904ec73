// Types of eslint.config.js for the test that imports its layering rules (runtime/layering.test.ts).
import type { Linter } from 'eslint';

declare const config: Linter.Config[];
export default config;
/** The per-folder `no-restricted-imports` blocks that enforce the dependency direction. */
export function layering(): Linter.Config[];
