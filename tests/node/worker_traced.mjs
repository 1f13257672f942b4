// A Node BullMQ 6 worker with BullMQ's OpenTelemetry integration (bullmq-otel): the reference for corral's job
// spans. Usage: node worker_traced.mjs REDIS_URL QUEUE OTLP_TRACES_URL STOP_AFTER. Job "ok" returns {ok: true},
// "boom" throws; exits after STOP_AFTER attempts have ended (completed or failed), prints {"worker": name} once
// its spans are exported.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Worker } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import IORedis from 'ioredis';

const [url, queueName, otlpUrl, stopAfter] = process.argv.slice(2);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
}));
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'node-worker' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpUrl }))],
});
trace.setGlobalTracerProvider(provider);

const connection = new IORedis(url, { maxRetriesPerRequest: null });
let ended = 0;
let finish;
const done = new Promise((resolve) => (finish = resolve));
const name = `node-traced-${process.pid}`;
const worker = new Worker(queueName, async (job) => {
  if (job.name === 'boom') throw new Error(`boom on attempt ${job.attemptsMade + 1}`);
  return { ok: true };
}, { connection, name, telemetry: new BullMQOtel({ tracerName: 'corral-tests' }) });
const count = () => { if (++ended >= Number(stopAfter)) finish(); };
worker.on('completed', count);
worker.on('failed', count);
await done;
await worker.close();
await connection.quit();
await provider.shutdown();
console.log(JSON.stringify({ worker: name }));
