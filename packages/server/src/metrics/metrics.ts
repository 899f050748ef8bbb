import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** All of the server's Prometheus metrics, in one registry that is passed in (tests make their own). */
export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'flotilla_process_' });
  return {
    registry,
    /** Run before each scrape, so figures gathered elsewhere (check-in threads) are current. */
    beforeScrape: [] as Array<() => Promise<void>>,
    httpRequests: new Counter({
      name: 'flotilla_http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'flotilla_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: 'flotilla_http_connections_refused_total',
      help: 'Connections answered 503 and closed because the server held as many as its open-file limit allows',
      registers: [registry],
    }),
    checkinsAccepted: new Counter({
      name: 'flotilla_checkins_accepted_total',
      help: 'Check-ins stored durably',
      labelNames: ['app'] as const,
      registers: [registry],
    }),
    checkinsDropped: new Counter({
      name: 'flotilla_checkins_dropped_total',
      help: 'Check-ins answered but not stored, by reason',
      labelNames: ['app', 'reason'] as const,
      registers: [registry],
    }),
    checkinsUnstored: new Counter({
      name: 'flotilla_checkins_unstored_total',
      help: 'Check-ins the store could not take (store_failed, queue_full); answered anyway unless --on-store-failure refuse',
      labelNames: ['app', 'reason'] as const,
      registers: [registry],
    }),
    checkinsUntrustedForwarded: new Counter({
      name: 'flotilla_checkins_untrusted_forwarded_total',
      help: 'Check-ins with X-Forwarded-For from a peer not in --trusted-proxies (the forwarded address is not believed)',
      registers: [registry],
    }),
    checkinValuesDropped: new Counter({
      name: 'flotilla_checkin_values_dropped_total',
      help: 'Tags and fields removed from stored check-ins, by kind and reason',
      labelNames: ['app', 'kind', 'reason'] as const,
      registers: [registry],
    }),
    checkinsRejected: new Counter({
      name: 'flotilla_checkins_rejected_total',
      help: 'Check-in requests refused with an error status, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    checkinThreads: new Gauge({
      name: 'flotilla_checkin_threads',
      help: 'Check-in threads listening on the public port',
      registers: [registry],
    }),
    threadRouteRequests: new Counter({
      name: 'flotilla_thread_route_requests_total',
      help: 'Agent reports that check-in threads read and handed to the main thread in batches, by route',
      labelNames: ['route'],
      registers: [registry],
    }),
    checkinThreadRestarts: new Counter({
      name: 'flotilla_checkin_thread_restarts_total',
      help: 'Check-in threads that stopped unexpectedly and were replaced',
      registers: [registry],
    }),
    storeBatchSize: new Histogram({
      name: 'flotilla_store_batch_size',
      help: 'Check-ins per group commit',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: [registry],
    }),
    storeBatchDuration: new Histogram({
      name: 'flotilla_store_batch_duration_seconds',
      help: 'Time to commit one batch of check-ins',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    storeQueueDepth: new Gauge({
      name: 'flotilla_store_queue_depth',
      help: 'Check-ins waiting for the next group commit',
      registers: [registry],
    }),
    sinkQueueDepth: new Gauge({
      name: 'flotilla_sink_queue_depth',
      help: 'Points waiting to be sent to an external sink',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    sinkPointsWritten: new Counter({
      name: 'flotilla_sink_points_written_total',
      help: 'Points written to an external sink',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    sinkPointsDropped: new Counter({
      name: 'flotilla_sink_points_dropped_total',
      help: 'Points an external sink lost, by reason (queue_full, write_failed)',
      labelNames: ['sink', 'reason'] as const,
      registers: [registry],
    }),
    sinkWriteErrors: new Counter({
      name: 'flotilla_sink_write_errors_total',
      help: 'Failed write attempts to an external sink (each retry counts)',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    agentLogLines: new Counter({
      name: 'flotilla_agent_log_lines_total',
      help: 'Service log lines from agents: stored, or dropped by agents whose buffer filled during an outage',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    agentUploadsRefused: new Counter({
      name: 'flotilla_agent_uploads_refused_total',
      help: 'Agent uploads refused with 429 because their instance spent its quota, by kind (logs, faults)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    faultReports: new Counter({
      name: 'flotilla_fault_reports_total',
      help: 'Fault reports received from agents, by catalog service; others count as (unknown)',
      labelNames: ['service'] as const,
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'flotilla_config_reloads_total',
      help: 'Response config reloads by app and result',
      labelNames: ['app', 'result'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
