// Add jobs with Node BullMQ 6 and its OpenTelemetry integration (bullmq-otel), as a traced producer does.
// Usage: node produce_traced.mjs REDIS_URL QUEUE OTLP_TRACES_URL [SERVICE_NAME]; reads [{name, data, opts}] as JSON
// on stdin, prints {"jobs": [{"id", "traceId", "spanId"}]}: each job added inside a span of its own ("enqueue"),
// so each gets its own trace, with BullMQ's "add <queue>.<name>" PRODUCER span as its child. The SDK (TracerProvider,
// W3C propagators, AsyncLocalStorage context) exports every span over OTLP/HTTP protobuf to OTLP_TRACES_URL and is
// shut down (flushed) before the script prints.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Queue } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import IORedis from 'ioredis';

const [url, queueName, otlpUrl, serviceName = 'node-producer'] = process.argv.slice(2);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
}));
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': serviceName }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpUrl }))],
});
trace.setGlobalTracerProvider(provider);

const input = JSON.parse(await new Promise((resolve) => {
  let buf = '';
  process.stdin.on('data', (c) => (buf += c)).on('end', () => resolve(buf));
}));
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection, telemetry: new BullMQOtel({ tracerName: 'corral-tests' }) });
const tracer = trace.getTracer('corral-tests');
const jobs = [];
for (const { name, data, opts } of input) {
  await tracer.startActiveSpan('enqueue', async (span) => {
    try {
      const job = await queue.add(name, data, opts || {});
      jobs.push({ id: job.id, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
    } finally {
      span.end();
    }
  });
}
await queue.close();
await connection.quit();
await provider.shutdown(); // exports what the batch still holds; a failed export is reported on stderr
console.log(JSON.stringify({ jobs }));
