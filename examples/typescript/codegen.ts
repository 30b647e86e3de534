// GraphQL Code Generator: typed documents for the example from the repository's published schema.
// Run from the repository root (`npm run example:ts:codegen`); the output (src/gql/) is not committed.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["examples/typescript/src/**/*.ts", "!examples/typescript/src/gql/**"],
  ignoreNoDocuments: false, // no documents found means a broken glob: fail instead of generating nothing
  generates: {
    "examples/typescript/src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        importExtension: ".js", // Node's ES modules need the extension on relative imports
        // Custom scalars as they travel in JSON: Decimal is a string so no cent is lost to a float.
        scalars: { Decimal: "string", DateTime: "string", Date: "string", JSON: "unknown" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
