// Module resolution hook: `import ... from 'svmfuzz/models'` in a user's model file
// resolves to this installation's model API, wherever the file lives (inside the
// repository, or in /tmp with no node_modules around it). Registered per thread with
// module.register before a model file is imported.

const MODELS = new URL('../models/index.js', import.meta.url).href;

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === 'svmfuzz/models' || specifier === 'svmfuzz') return { url: MODELS, shortCircuit: true };
  return next(specifier, context);
}
