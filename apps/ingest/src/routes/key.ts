import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, FastifyError } from './schemas.js';
import { isSmokeKey } from '../plugins/auth.js';

const KeyInfo = Type.Object({
  client: Type.String({ description: 'The client this key sends plays for' }),
  name: Type.String({ description: "The key's name (npm run keys -- create --name)" }),
  synthetic: Type.Boolean({ description: 'Plays sent with this key are synthetic: stored, never reported (keys named smoke)' }),
});

/**
 * GET /v1/key: what the presented key is, so a tool can check before it sends anything (the smoke
 * test refuses to send a play with a key whose plays would be reported).
 */
export default async function keyRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/key',
    {
      schema: {
        operationId: 'describeKey',
        summary: 'Describe the API key sent with the request',
        tags: ['keys'],
        security: [{ bearer: [] }],
        response: { 200: { ...KeyInfo, description: 'The key is valid' }, ...errorResponses(FastifyError, [401, 503]) },
      },
    },
    async (req) => ({ client: req.principal.client, name: req.principal.name, synthetic: isSmokeKey(req.principal) }),
  );
}
