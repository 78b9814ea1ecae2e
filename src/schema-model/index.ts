/** Schema as code: typed builders, the plain model types, validation and loading. */
export { col, defineSchema, routine, sequence, sql, table, view, ColumnBuilder, type DefaultInput, type TableInput } from './model-builders.js';
export type * from './model-types.js';
export { validateModel } from './validate-model.js';
export { ModelError } from './model-error.js';
