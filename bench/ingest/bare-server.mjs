// The baselines for bench/ingest: a bare Fastify with the same two routes as Playlog's ingest and
// nothing else (no auth, no Kafka, no logging, no metrics).
//   (b) POST /v1/play-logs validates the body against ingest's BulkBody (every play against libs/schema's PlayInput) with TypeBox, answers 202.
//   (d) POST /1.2/user/subscription/log parses the JSON body and answers 200.
import Fastify from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { BulkBody } from '../../apps/ingest/dist/routes/schemas.js';

const port = Number(process.env.PORT ?? 8090);
const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });

app.post('/v1/play-logs', { schema: { body: BulkBody }, validatorCompiler: TypeBoxValidatorCompiler }, async (req, reply) =>
  reply.code(202).send({ accepted: req.body.plays.length, rejected: 0 }),
);

app.post('/1.2/user/subscription/log', async () => ({ status: 'ok', version: '1.2', playLogs: { count: 1 } }));

app.get('/healthz', async () => ({ status: 'ok' }));

await app.listen({ port, host: '127.0.0.1' });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => app.close().then(() => process.exit(0)));
