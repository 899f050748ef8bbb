import { DriftReport, driftReportLimits, driftSchemaProblems, OpvicAgentPayload } from '@flotilla/protocol';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import {
  type BatchMemo,
  errorAnswer,
  jsonAnswer,
  parseJsonBody,
  type ThreadAnswer,
  type ThreadRoute,
} from '../http/thread-routes.ts';
import { maxReportBytes } from './limits.ts';
import { reporterEnvironment, reporterPrincipal } from './reporter-auth.ts';
import type { DriftService } from './service.ts';

/** Checks like Fastify's validator does for these schemas: a value that fails is converted, cleaned, checked again. */
function validatorOf<T>(schema: TSchema) {
  const compiled = Compile(schema);
  return (value: unknown): T => {
    if (compiled.Check(value)) return value as T;
    try {
      return compiled.Parse(structuredClone(value)) as T;
    } catch {
      const problems = driftSchemaProblems(schema, value);
      throw new Invalid(problems.length > 0 ? problems.join('; ') : 'body does not match the schema');
    }
  };
}

/**
 * The two drift report routes as check-in threads serve them (see ThreadRoute): the same checks in the
 * same order as their Fastify twins (credential, body, place), with each credential and place looked
 * up once per batch, as the group commit then stores the batch at once.
 */
export function driftThreadRoutes(deps: FeatureDeps, drift: DriftService): ThreadRoute[] {
  const opvic = validatorOf<OpvicAgentPayload>(OpvicAgentPayload);
  const batch = validatorOf<DriftReport>(DriftReport);

  const handle = async <T extends { agentId: string }>(
    authorization: string,
    text: string,
    memo: BatchMemo,
    validate: (value: unknown) => T,
    ingest: (environment: string, report: T) => Promise<ThreadAnswer>,
  ): Promise<ThreadAnswer> => {
    try {
      const principal = await memo.once(`token ${authorization}`, () => reporterPrincipal(deps.tokens, authorization));
      const parsed = parseJsonBody(text);
      if ('answer' in parsed) return parsed.answer;
      const report = validate(parsed.value);
      const environment = await memo.once(`place ${principal.tokenId} ${principal.instanceId} ${report.agentId}`, () =>
        reporterEnvironment(deps.db, principal, report.agentId),
      );
      return await ingest(environment, report);
    } catch (err) {
      return errorAnswer(err, deps.logger);
    }
  };

  const received = JSON.stringify({ message: 'data received' });
  return [
    {
      path: '/api/v1alpha1/agents',
      bodyLimit: maxReportBytes,
      handle: (authorization, text, memo) =>
        handle(authorization, text, memo, opvic, async (environment, report) => {
          await drift.ingest(environment, report);
          return { status: 202, body: received };
        }),
    },
    {
      path: '/api/v1/drift/reports',
      bodyLimit: driftReportLimits.bodyBytes,
      handle: (authorization, text, memo) =>
        handle(authorization, text, memo, batch, async (environment, report) =>
          jsonAnswer(202, await drift.ingestReport(environment, report)),
        ),
    },
  ];
}
