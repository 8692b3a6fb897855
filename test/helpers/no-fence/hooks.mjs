// Module resolution hook: engine/ops/fence.{js,ts} and engine/ops/fencing.{js,ts} -> ./fence.mjs.
const replacement = new URL('./fence.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/\/engine\/ops\/fenc(e|ing)\.(js|ts)$/.test(r.url)) return { ...r, url: replacement, format: 'module', shortCircuit: true };
  return r;
}
