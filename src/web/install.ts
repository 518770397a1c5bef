import type { Config } from '../lib/config.ts';
import { createDnsLookup, type DnsLookup } from '../lib/dns.ts';

/**
 * The install checklist's DNS resolver: one per process, on DNS_SERVERS when set. Only staff pages
 * (the dashboard and /admin/checklist) use it; every lookup is bounded (src/lib/dns.ts).
 */
let shared: { servers: string; dns: DnsLookup } | undefined;

export function checklistDns(config: Pick<Config, 'dnsServers'>): DnsLookup {
  const servers = (config.dnsServers ?? []).join(',');
  if (shared?.servers !== servers) shared = { servers, dns: createDnsLookup({ servers: config.dnsServers, timeoutMs: 1500 }) };
  return shared.dns;
}
