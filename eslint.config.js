// Flat config: typescript-eslint's recommended rules over every TypeScript file in the tree.
const tseslint = require("typescript-eslint");

module.exports = tseslint.config({ ignores: ["node_modules/**"] }, ...tseslint.configs.recommended, {
  rules: {
    // Dynamic providers must `require` inside methods (closure serialisation), so allow it.
    "@typescript-eslint/no-require-imports": "off",
    "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
  },
});
