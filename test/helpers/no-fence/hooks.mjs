// Module resolution hook: engine/ops/fence.{js,ts} -> ./fence.mjs.
const replacement = new URL('./fence.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/\/engine\/ops\/fence\.(js|ts)$/.test(r.url)) return { ...r, url: replacement, format: 'module', shortCircuit: true };
  return r;
}
