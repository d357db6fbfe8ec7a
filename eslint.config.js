// @ts-check
// ESLint flat config: `npm run lint` (zero warnings allowed). typescript-eslint's type-aware
// recommended set over every TypeScript file, each file checked against the tsconfig that
// includes it (the project's, examples/browser's, examples/node's) through the project service.
// The whole tree lints in about 12 s on this project's 2-core machine.
import js from "@eslint/js"
import { defineConfig, globalIgnores } from "eslint/config"
import tseslint from "typescript-eslint"

export default defineConfig(
  globalIgnores([
    "dist/**",
    "coverage/**",
    "test-artifacts/**",
    ".scratch/**",
    ".vitest/**",
    ".tmp-*/**"
  ]),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      // The code writes `xs[i]!` on indexed reads, stating that the index is in range, as it
      // would have to under `noUncheckedIndexedAccess`; without that compiler option this rule
      // calls each of those ~370 assertions unnecessary and its fix would delete them.
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      // The same convention as tsc's noUnusedLocals/noUnusedParameters: a leading underscore
      // marks a binding as deliberately unused, and `const { a, ...rest } = x` omits `a`.
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_",
        varsIgnorePattern: "^_",
        caughtErrorsIgnorePattern: "^_",
        destructuredArrayIgnorePattern: "^_",
        ignoreRestSiblings: true
      }]
    }
  },
  {
    // plain JavaScript (this file): no tsconfig includes it, so no type-aware rules
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked]
  }
)
