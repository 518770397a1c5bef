import Stripe from 'stripe';
import type { Config } from './config.ts';

/**
 * The Stripe client, or undefined when payments are not configured. STRIPE_API_BASE points the
 * real SDK at a Stripe-compatible server (the tests' own), through its host/port/protocol options.
 */
export function createStripe(config: Config['stripe']): Stripe | undefined {
  if (!config) return undefined;
  const base = config.apiBase ? new URL(config.apiBase) : undefined;
  return new Stripe(config.secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol.replace(':', '') as 'http' | 'https',
        }
      : {}),
  });
}
