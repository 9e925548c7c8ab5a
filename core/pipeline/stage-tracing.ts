import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';

/**
 * The pipeline's side of tracing, on the OpenTelemetry API alone (no SDK, no configuration): a
 * CONSUMER span per stage run and the `traceparent` a job carries to the next stage. With tracing
 * off (platform/observability/tracing.ts never started the SDK) every span here is the API's no-op
 * span.
 */

export const TRACER_NAME = 'dcr-pipeline';

export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** `error.type`: the error's code (`ERR_FETCH_FAILED`…) or class name, never its message. */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return 'Error';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}

export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}

/**
 * Runs `body` in an active span `name` (child of `parent`): an exception marks the span failed
 * (`error.type`, status with the message) and is rethrown; the span always ends.
 */
export function inSpan<T>(name: string, options: SpanOptions, parent: Context, body: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, options, parent, async (span) => {
    try {
      return await body(span);
    } catch (error) {
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The W3C `traceparent` of the active span, if there is a valid one (never with tracing off). */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

function parentOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/**
 * Runs one stage job in a CONSUMER span `stage <name>`, child of the job's `traceparent` (the span
 * that queued it), never of whatever context the queue's consumer loop happens to run in.
 */
export function traceStage<T>(
  stage: string,
  job: { requestId: string; generation: number; traceparent?: string | null },
  delivery: { jobId: string; attempt: number },
  run: () => Promise<T>,
): Promise<T> {
  const attributes: Attributes = {
    'dcr.stage': stage,
    'dcr.request_id': job.requestId,
    'dcr.generation': job.generation,
    'dcr.attempt': delivery.attempt,
    'messaging.operation.type': 'process',
    'messaging.message.id': delivery.jobId,
  };
  return inSpan(`stage ${stage}`, { kind: SpanKind.CONSUMER, attributes }, parentOf(job.traceparent), run);
}

/** Marks the active stage span with how the run ended (`advanced`, `rejected`, `retry`, `failed`, `skipped`). */
export function recordStageOutcome(outcome: string): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttribute('dcr.stage.outcome', outcome);
  if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'registration failed after its last attempt' });
}

