export { HELPER_NAMES, HelperArgumentError } from './helpers.js';
export {
  RENDER_SYNTAX,
  SAMPLE_SCHEMA_NAME,
  SAMPLE_WORKSPACE_ID,
  buildRenderContext,
  sampleRenderContext,
  syntaxOfContext,
  type BuildRenderContextOptions,
  type RenderContext,
} from './render-context.js';
export { TemplateEngine, toTemplateError, type RenderableFile, type TemplateEngineOptions } from './template-engine.js';
