import { createServer, type IncomingMessage, type Server } from 'node:http';
import Stripe from 'stripe';

/**
 * A local Stripe-compatible server for tests: the calls Hearth makes (products, prices, customers,
 * Checkout Sessions, the billing portal, subscriptions), kept in memory. A checkout page completes
 * the session, creates the subscription, and posts the webhooks Stripe would, signed with
 * stripe.webhooks.generateTestHeaderString, to `webhookUrl`.
 *
 * Where it matters it behaves like Stripe:
 * - Idempotency: a POST with a key already used answers the first response again (with
 *   `Idempotent-Replayed: true`) when the endpoint and parameters are the same, and a 400
 *   `idempotency_error` when they differ.
 * - Lists (`GET /v1/subscriptions`): newest first, `limit` (10 by default, 100 at most),
 *   `starting_after`/`has_more`, the `price`, `customer` and `status` filters (no status: every
 *   subscription not canceled; `all`; `ended`), and `expand[]=data.customer`.
 * - A missing object is a 404 `resource_missing`.
 * - `down` makes every API call drop its connection (an account that cannot be reached);
 *   `failListAfter(n)` drops the connection from the n-th list page on.
 */
type Obj = Record<string, unknown>;

/** Parses Stripe's form encoding (a[b][0][c]=v) into nested objects and arrays. */
export function parseStripeForm(body: string): Obj {
  const root: Obj = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.replace(/\]/g, '').split('[');
    let node: Obj | unknown[] = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]!);
      const key = Array.isArray(node) ? Number(part) : part;
      const container = node as Record<string | number, unknown>;
      if (last) container[key] = value;
      else {
        container[key] ??= nextIsIndex ? [] : {};
        node = container[key] as Obj | unknown[];
      }
    });
  }
  return root;
}

export interface StripeTestServer {
  url: string;
  port: number;
  webhookSecret: string;
  webhookUrl: string | undefined;
  objects: Map<string, Obj>;
  requests: Array<{ method: string; path: string; idempotencyKey: string | undefined; query: string }>;
  /** When true, every API call drops its connection, as an unreachable Stripe would. */
  down: boolean;
  /** Drops the connection of list calls after `pages` pages were answered (undefined: never). */
  failListAfter(pages: number | undefined): void;
  /** A customer made outside Hearth (another tool's checkout), as Stripe would store it. */
  createCustomer(fields: { email: string | null; name?: string; id?: string }): Obj;
  /** A subscription made outside Hearth (another tool's checkout), on one price. No webhook is sent. */
  createSubscription(fields: { customer: string; price: string; status?: string; id?: string; metadata?: Obj; created?: number }): Obj;
  /** Completes a Checkout Session as a paying customer would, then posts the webhooks. */
  completeCheckout(sessionId: string): Promise<Obj>;
  /** Changes a subscription and posts customer.subscription.updated (or .deleted for canceled). */
  updateSubscription(id: string, patch: Obj): Promise<void>;
  /** Posts an event for an object, signed like Stripe does. Returns the HTTP status Hearth answered. */
  sendEvent(type: string, object: Obj, options?: { id?: string; secret?: string }): Promise<number>;
  close(): Promise<void>;
}

/** The parameters of a request, independent of their order, to compare a reused idempotency key's. */
function canonicalParams(raw: string): string {
  return [...new URLSearchParams(raw)]
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('&');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startStripeTestServer(options: { webhookUrl?: string } = {}): Promise<StripeTestServer> {
  const objects = new Map<string, Obj>();
  const requests: StripeTestServer['requests'] = [];
  // Stripe keeps each key's first request (endpoint + parameters) and its answer for 24 hours.
  const idempotent = new Map<string, { endpoint: string; params: string; status: number; answer: unknown }>();
  let listPagesLeft: number | undefined;
  const webhookSecret = 'whsec_test_secret';
  const signer = new Stripe('sk_test_signer');
  let counter = 0;
  const id = (prefix: string) => `${prefix}_test${++counter}`;
  const now = () => Math.floor(Date.now() / 1000);

  const state: StripeTestServer = {
    url: '',
    port: 0,
    webhookSecret,
    webhookUrl: options.webhookUrl,
    objects,
    requests,
    down: false,
    failListAfter(pages) {
      listPagesLeft = pages;
    },
    createCustomer(fields) {
      const customer: Obj = {
        id: fields.id ?? id('cus'),
        object: 'customer',
        email: fields.email,
        name: fields.name ?? null,
        created: now(),
      };
      objects.set(customer.id as string, customer);
      return customer;
    },
    createSubscription(fields) {
      const price = objects.get(fields.price);
      if (!price) throw new Error(`no price ${fields.price}`);
      const subscription: Obj = {
        id: fields.id ?? id('sub'),
        object: 'subscription',
        customer: fields.customer,
        status: fields.status ?? 'active',
        cancel_at_period_end: false,
        metadata: fields.metadata ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price, current_period_end: now() + 30 * 86400 }] },
        current_period_end: now() + 30 * 86400,
        created: fields.created ?? now() + counter, // distinct and increasing, for the list order
      };
      objects.set(subscription.id as string, subscription);
      return subscription;
    },
    async completeCheckout(sessionId) {
      const session = objects.get(sessionId);
      if (!session) throw new Error(`no session ${sessionId}`);
      const lineItems = session.line_items as Array<{ price: string }>;
      const price = objects.get(lineItems[0]!.price)!;
      const trialDays = Number((session.subscription_data as Obj | undefined)?.trial_period_days ?? 0);
      const subscription: Obj = {
        id: id('sub'),
        object: 'subscription',
        customer: session.customer,
        status: trialDays > 0 ? 'trialing' : 'active',
        cancel_at_period_end: false,
        metadata: session.metadata ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price, current_period_end: now() + 30 * 86400 }] },
        current_period_end: now() + 30 * 86400,
        created: now() + counter,
      };
      objects.set(subscription.id as string, subscription);
      Object.assign(session, { status: 'complete', payment_status: 'paid', subscription: subscription.id });
      await state.sendEvent('checkout.session.completed', session);
      await state.sendEvent('customer.subscription.created', subscription);
      await state.sendEvent('invoice.paid', {
        id: id('in'),
        object: 'invoice',
        customer: session.customer,
        subscription: subscription.id,
        parent: { subscription_details: { subscription: subscription.id } },
      });
      return subscription;
    },
    async updateSubscription(subId, patch) {
      const sub = objects.get(subId);
      if (!sub) throw new Error(`no subscription ${subId}`);
      Object.assign(sub, patch);
      await state.sendEvent(sub.status === 'canceled' ? 'customer.subscription.deleted' : 'customer.subscription.updated', sub);
    },
    async sendEvent(type, object, opts = {}) {
      if (!state.webhookUrl) throw new Error('no webhook URL');
      const payload = JSON.stringify({
        id: opts.id ?? id('evt'),
        object: 'event',
        type,
        created: now(),
        data: { object },
        api_version: '2026-10-28.endive',
        livemode: false,
      });
      const header = signer.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? webhookSecret });
      const res = await fetch(state.webhookUrl, {
        method: 'POST',
        body: payload,
        headers: { 'content-type': 'application/json', 'stripe-signature': header },
      });
      await res.arrayBuffer();
      return res.status;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };

  const send = (res: import('node:http').ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const error = (res: import('node:http').ServerResponse, status: number, message: string, fields: Obj = {}) =>
    send(res, status, { error: { type: 'invalid_request_error', message, ...fields } });
  const missing = (res: import('node:http').ServerResponse, what: string, objectId: string) =>
    error(res, 404, `No such ${what}: '${objectId}'`, { code: 'resource_missing', param: 'id' });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    const key = req.headers['idempotency-key'] as string | undefined;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, idempotencyKey: key, query: url.search });
    if (state.down && url.pathname.startsWith('/v1/')) return req.socket.destroy();

    // The hosted pages a browser visits.
    const checkoutPage = /^\/checkout\/(cs_test\d+)(\/complete)?$/.exec(url.pathname);
    if (checkoutPage) {
      const session = objects.get(checkoutPage[1]!);
      if (!session) return error(res, 404, 'No such session');
      if (checkoutPage[2] && req.method === 'POST') {
        await state.completeCheckout(session.id as string);
        res.writeHead(303, { location: String(session.success_url).replace('{CHECKOUT_SESSION_ID}', session.id as string) });
        return res.end();
      }
      return send(
        res,
        200,
        `<!doctype html><title>Test checkout</title><h1>Test checkout</h1><form method="post" action="/checkout/${session.id}/complete"><button>Pay</button></form>`,
        'text/html',
      );
    }
    if (url.pathname.startsWith('/portal/'))
      return send(res, 200, '<!doctype html><title>Test billing portal</title><h1>Test billing portal</h1>', 'text/html');

    if (!String(req.headers.authorization ?? '').startsWith('Bearer sk_test')) return error(res, 401, 'Invalid API Key provided');
    const path = url.pathname;
    const seen = key && req.method === 'POST' ? idempotent.get(key) : undefined;
    if (seen) {
      if (seen.endpoint !== path || seen.params !== canonicalParams(raw)) {
        return send(res, 400, {
          error: {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          },
        });
      }
      res.setHeader('idempotent-replayed', 'true');
      return send(res, seen.status, seen.answer);
    }
    const body = parseStripeForm(req.method === 'GET' ? url.search.slice(1) : raw);
    let answer: Obj | undefined;
    if (req.method === 'POST' && path === '/v1/products') answer = { id: id('prod'), object: 'product', active: true, ...body };
    else if (req.method === 'POST' && path === '/v1/prices') {
      if (!body.product || !body.currency || !body.unit_amount)
        return error(res, 400, 'Missing required param: product, currency or unit_amount.');
      answer = { id: id('price'), object: 'price', active: true, ...body, unit_amount: Number(body.unit_amount) };
    } else if (req.method === 'POST' && path === '/v1/customers') answer = { id: id('cus'), object: 'customer', ...body };
    else if (req.method === 'POST' && path === '/v1/checkout/sessions') {
      const items = body.line_items as Array<{ price: string }> | undefined;
      if (!items?.[0] || !objects.has(items[0].price)) return error(res, 400, 'No such price');
      const sid = id('cs');
      answer = { id: sid, object: 'checkout.session', status: 'open', url: `${state.url}/checkout/${sid}`, ...body };
    } else if (req.method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!body.customer || !objects.has(body.customer as string)) return error(res, 400, 'No such customer');
      const pid = id('bps');
      answer = { id: pid, object: 'billing_portal.session', url: `${state.url}/portal/${pid}`, ...body };
    } else if (req.method === 'GET' && path === '/v1/subscriptions') {
      if (listPagesLeft !== undefined && listPagesLeft-- <= 0) return req.socket.destroy();
      const listed = listSubscriptions(body);
      if (typeof listed.error === 'string') return error(res, 400, listed.error);
      return send(res, 200, listed);
    } else if (req.method === 'GET') {
      const found = /^\/v1\/(subscriptions|customers|prices|products|checkout\/sessions)\/([\w]+)$/.exec(path);
      const obj = found ? objects.get(found[2]!) : undefined;
      if (!obj) return missing(res, found?.[1]?.replace(/s$/, '') ?? 'object', found?.[2] ?? path);
      return send(res, 200, expand(obj, body.expand as string[] | undefined, ''));
    } else return error(res, 404, `Unrecognized request URL (${req.method}: ${path})`);
    objects.set(answer.id as string, answer);
    if (key) idempotent.set(key, { endpoint: path, params: canonicalParams(raw), status: 200, answer });
    send(res, 200, answer);
  });
  /** Replaces an id by its object at each expanded path (`customer`, `data.customer`). */
  function expand(obj: Obj, paths: string[] | undefined, prefix: string): Obj {
    const copy: Obj = { ...obj };
    for (const p of paths ?? []) {
      if (!p.startsWith(prefix)) continue;
      const field = p.slice(prefix.length);
      if (field.includes('.')) continue;
      const ref = copy[field];
      if (typeof ref === 'string' && objects.has(ref)) copy[field] = objects.get(ref);
    }
    return copy;
  }

  const ENDED = ['canceled', 'incomplete_expired'];
  function listSubscriptions(params: Obj): Obj {
    const limit = params.limit === undefined ? 10 : Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return { error: 'Invalid integer: limit must be between 1 and 100' };
    const status = params.status as string | undefined;
    let subs = [...objects.values()]
      .filter((o) => o.object === 'subscription')
      .filter((s) => {
        if (status === 'all') return true;
        if (status === 'ended') return ENDED.includes(s.status as string);
        if (status) return s.status === status;
        return s.status !== 'canceled';
      })
      .filter((s) => !params.customer || s.customer === params.customer)
      .filter((s) => !params.price || (s.items as { data: Array<{ price: Obj }> }).data.some((i) => i.price.id === params.price))
      // Newest first, as Stripe lists.
      .sort((a, b) => Number(b.created ?? 0) - Number(a.created ?? 0));
    if (params.starting_after) {
      const at = subs.findIndex((s) => s.id === params.starting_after);
      if (at < 0) return { error: `No such subscription: '${String(params.starting_after)}'` };
      subs = subs.slice(at + 1);
    }
    const page = subs.slice(0, limit);
    return {
      object: 'list',
      url: '/v1/subscriptions',
      has_more: subs.length > limit,
      data: page.map((s) => expand(s, params.expand as string[] | undefined, 'data.')),
    };
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  state.port = typeof address === 'object' && address ? address.port : 0;
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}
