/** The public surface of workflow specs: shape, step types, durations, validation, graph, expressions. */
export * from './schema';
export * from './step-types';
export * from './notify';
export * from './duration';
export * from './validate';
export * from './dag';
export * from './expressions';
export { EXPRESSION_BOUNDS, ExpressionBoundError, type BoundKind } from './expression-bounds';
